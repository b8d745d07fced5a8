# Evaluates nix/module.nix for one of cases.nix against the stand-in lib (no nixpkgs, no network):
#   nix-instantiate --eval --strict --json Tests/Nix/eval.nix --argstr case full --argstr package /nix/store/…
# gives { config = "<text of /etc/smart-sync/config.toml>"; units = { "<unit file>" = "<text>"; … }; }.
{
  case ? "full",
  package ? "/nix/store/00000000000000000000000000000000-smart-sync",
}:
let
  lib = import ./stub-lib.nix;
  evalModule = import ./eval-module.nix { inherit lib; };
  render = import ./render-units.nix { inherit lib; };
  config = evalModule (import ../../nix/module.nix) (import ./cases.nix package).${case};
in
{
  config = config.environment.etc."smart-sync/config.toml".text or null;
  units = render (config.systemd or { });
}
