{ ... }:
{
  security.sudo.wheelNeedsPassword = true;
  services.openssh.settings.PasswordAuthentication = false;
  boot.kernel.sysctl."kernel.kptr_restrict" = 2;
}
