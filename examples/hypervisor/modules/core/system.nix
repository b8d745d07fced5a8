{ pkgs, ... }:
{
  time.timeZone = "UTC";
  i18n.defaultLocale = "en_US.UTF-8";
  environment.systemPackages = with pkgs; [ git curl jq htop qemu_kvm ];
  services.openssh.enable = true;
}
