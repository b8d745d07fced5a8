{
  description = "smart-sync: keep a directory equal to a git ref of a GitHub repository, without git clone";

  # No inputs: the flake holds the NixOS module only. There is no package output: nixpkgs' Swift toolchain predates
  # the Swift 6 this package needs, and SwiftPM's dependencies cannot be fetched in the Nix sandbox without a
  # generated lock (swiftpm2nix). Set services.smart-sync.package yourself; docs/SERVICE.md shows how.
  outputs =
    { self }:
    {
      nixosModules.default = import ./nix/module.nix;
      nixosModules.smart-sync = self.nixosModules.default;
    };
}
