{ ... }:
{
  users.users.operator = {
    isNormalUser = true;
    extraGroups = [ "wheel" "libvirtd" "kvm" ];
  };
}
