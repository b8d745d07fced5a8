{ config, pkgs, ... }:
{
  imports = [
    ./hardware-configuration.nix
    ./modules/core/system.nix
    ./modules/core/users.nix
    ./modules/network/bridge.nix
    ./modules/virtualization/libvirt.nix
    ./modules/security/hardening.nix
  ];

  nix.settings.experimental-features = [ "nix-command" "flakes" ];
  system.stateVersion = "24.05";
}
