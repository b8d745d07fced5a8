# NixOS configurations the tests evaluate nix/module.nix with; each takes the package (a directory holding
# bin/smart-sync). `full` is the reference; the others must fail (or, `disabled`, produce nothing).
package:
let
  base = targets: {
    services.smart-sync = {
      enable = true;
      inherit package targets;
    };
  };
in
{
  full.services.smart-sync = {
    enable = true;
    inherit package;
    settings = {
      store = {
        path = "/var/lib/smart-sync/store";
        state = "/var/lib/smart-sync/state";
        max_size = "20G";
        keep_local_age = "90d";
        gc_grace = "1h";
      };
      sync.link_mode = "auto";
    };
    targets.hypervisor = {
      repo = "example/hypervisor";
      ref = "main";
      path = "/etc/hypervisor";
      tokenFile = "/run/keys/gh";
      exclude = [ "secrets/**" ];
      keepGenerations = 3;
      metricsFile = "/var/lib/prometheus/node-exporter/smart-sync-hypervisor.prom";
      mirrors = [ "https://mirror.example/hv" ];
      trustedKey = "/etc/smart-sync/allowed_signers";
      requireSignedCommits = true;
      allowedSigners = "/etc/smart-sync/commit_signers";
      checks = "builtin";
    };
    targets.site = {
      source = "/srv/git/site";
      path = "/srv/www/site";
      command = "sync";
      interval = "10min";
      splay = "1min";
      skipRebuild = true;
      transport = "pack";
      linkMode = "copy";
      checks = "none";
      extraConfig.keep_generations = 5;
    };
  };

  disabled.services.smart-sync = {
    enable = false;
    inherit package;
    targets.hypervisor = {
      repo = "example/hypervisor";
      path = "/etc/hypervisor";
    };
  };

  repoAndSource = base {
    both = {
      repo = "example/hypervisor";
      source = "/srv/git/hypervisor";
      path = "/etc/hypervisor";
    };
  };

  neitherRepoNorSource = base { none.path = "/etc/hypervisor"; };

  relativePath = base {
    relative = {
      repo = "example/hypervisor";
      path = "etc/hypervisor";
    };
  };

  # A path literal would copy the token into the world-readable Nix store: refused by the option's type.
  tokenInStore = base {
    leaky = {
      repo = "example/hypervisor";
      path = "/etc/hypervisor";
      tokenFile = ./cases.nix;
    };
  };

  badName = base {
    "a.b" = {
      repo = "example/hypervisor";
      path = "/etc/hypervisor";
    };
  };

  unknownOption = base {
    typo = {
      repo = "example/hypervisor";
      path = "/etc/hypervisor";
      tokenfile = "/run/keys/gh";
    };
  };
}
