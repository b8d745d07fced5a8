{ pkgs, ... }:
{
  virtualisation.libvirtd = {
    enable = true;
    qemu.ovmf.enable = true;
    qemu.swtpm.enable = true;
  };
  boot.kernelParams = [ "intel_iommu=on" "amd_iommu=on" ];
}
