{ ... }:
{
  networking.hostName = "hypervisor";
  networking.bridges.br0.interfaces = [ "eno1" ];
  networking.interfaces.br0.useDHCP = true;
  networking.firewall.allowedTCPPorts = [ 22 ];
}
