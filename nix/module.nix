# NixOS module for smart-sync: services.smart-sync.targets.<name> writes [target.<name>] of
# /etc/smart-sync/config.toml and runs `smart-sync update <name>` from the timer smart-sync@<name>.timer, in the
# hardened template smart-sync@.service (the same settings as dist/systemd/smart-sync@.service) with a per-target
# drop-in for the paths it writes and its token. See docs/SERVICE.md.
{ config, lib, ... }:

let
  inherit (lib) mkOption mkEnableOption mkIf types;

  cfg = config.services.smart-sync;

  # --- TOML ---------------------------------------------------------------------------------------------------
  # A small TOML writer for the config file: tables as [a.b] headers, lists of tables as [[a]], null values left out.
  # Strings go through builtins.toJSON, whose escapes are all TOML basic-string escapes.
  isTableList = v: builtins.isList v && v != [ ] && builtins.all builtins.isAttrs v;
  tomlKey = k: if builtins.match "[A-Za-z0-9_-]+" k != null then k else builtins.toJSON k;
  tomlValue =
    v:
    if builtins.isBool v then
      (if v then "true" else "false")
    else if builtins.isInt v || builtins.isFloat v then
      toString v
    else if builtins.isList v then
      "[" + lib.concatStringsSep ", " (map tomlValue v) + "]"
    else if builtins.isAttrs v then
      "{ " + lib.concatStringsSep ", " (lib.mapAttrsToList (k: x: "${tomlKey k} = ${tomlValue x}") v) + " }"
    else
      builtins.toJSON v;
  tomlTable =
    path: attrs:
    let
      present = lib.filterAttrs (_: v: v != null) attrs;
      scalars = lib.filterAttrs (_: v: !(builtins.isAttrs v) && !(isTableList v)) present;
      tables = lib.filterAttrs (_: v: builtins.isAttrs v) present;
      arrays = lib.filterAttrs (_: isTableList) present;
      header = lib.concatStringsSep "." (map tomlKey path);
      lines = lib.mapAttrsToList (k: v: "${tomlKey k} = ${tomlValue v}\n") scalars;
    in
    lib.optionalString (path != [ ] && (scalars != { } || tables == { })) "\n[${header}]\n"
    + lib.concatStrings lines
    + lib.concatStrings (lib.mapAttrsToList (k: v: tomlTable (path ++ [ k ]) v) tables)
    + lib.concatStrings (
      lib.mapAttrsToList (
        k: list:
        lib.concatStrings (
          map (
            element:
            "\n[[${lib.concatStringsSep "." (map tomlKey (path ++ [ k ]))}]]\n"
            + lib.concatStrings (lib.mapAttrsToList (x: v: "${tomlKey x} = ${tomlValue v}\n") element)
          ) list
        )
      ) arrays
    );

  # --- the config file ----------------------------------------------------------------------------------------
  # The rebuild runs outside the unit's sandbox (nixos-rebuild switch writes /nix/var, /boot, /etc and restarts
  # services), as a transient unit whose exit status, output and failure `update` still sees.
  defaultRebuild =
    "systemd-run --wait --pipe --quiet --collect --service-type=exec"
    + " --setenv=PATH=/run/wrappers/bin:/run/current-system/sw/bin"
    + " -- nixos-rebuild {action} --flake {target}#{hostname}";

  targetTable =
    name: t:
    {
      inherit (t)
        repo
        source
        ref
        path
        transport
        exclude
        mirrors
        checks
        ;
      link_mode = t.linkMode;
      keep_generations = t.keepGenerations;
      token_file = t.tokenFile;
      api_url = t.apiUrl;
      raw_url = t.rawUrl;
      git_url = t.gitUrl;
      rebuild = if t.skipRebuild then null else if t.rebuild != null then t.rebuild else defaultRebuild;
      skip_rebuild = t.skipRebuild;
      metrics_file = t.metricsFile;
      trusted_key = t.trustedKey;
      allow_downgrade = t.allowDowngrade;
      require_signed_commits = t.requireSignedCommits;
      allowed_signers = t.allowedSigners;
    }
    // t.extraConfig;

  configText =
    "# Written by the NixOS module services.smart-sync; edit the NixOS configuration, not this file.\n"
    + tomlTable [ ] (cfg.settings // { target = lib.mapAttrs targetTable cfg.targets; });

  # --- the units ----------------------------------------------------------------------------------------------
  # Kept equal to dist/systemd/smart-sync@.service (a test compares them); see docs/SERVICE.md for each line.
  hardening = {
    ProtectSystem = "strict";
    StateDirectory = "smart-sync";
    CacheDirectory = "smart-sync";
    PrivateTmp = true;
    ProtectHome = true;
    PrivateDevices = true;
    UMask = "0077";
    CapabilityBoundingSet = "CAP_CHOWN CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH CAP_FOWNER CAP_FSETID";
    NoNewPrivileges = true;
    ProtectKernelTunables = true;
    ProtectKernelModules = true;
    ProtectKernelLogs = true;
    ProtectControlGroups = true;
    ProtectClock = true;
    ProtectHostname = true;
    RestrictNamespaces = true;
    RestrictRealtime = true;
    LockPersonality = true;
    RestrictAddressFamilies = "AF_INET AF_INET6 AF_UNIX";
    SystemCallArchitectures = "native";
    SystemCallFilter = "@system-service";
    SystemCallErrorNumber = "EPERM";
  };

  # git, nix and nixos-rebuild for validate's checks; systemd-run is on every NixOS unit's PATH.
  servicePath = [ "/run/current-system/sw" ];

  # A timespan ("15min", "1h 30min") runs that long after the last run; anything else is an OnCalendar expression.
  isTimespan = interval: builtins.match "[0-9][0-9a-z ]*" interval != null;

  writable =
    t:
    lib.unique (
      [ "-${dirOf t.path}" ]
      ++ lib.optional (cfg.settings ? store && cfg.settings.store ? path) "-${cfg.settings.store.path}"
      ++ lib.optional (cfg.settings ? store && cfg.settings.store ? state) "-${cfg.settings.store.state}"
      ++ lib.optional (t.metricsFile != null) "-${dirOf t.metricsFile}"
    );

  targetOptions =
    { name, ... }:
    {
      options = {
        repo = mkOption {
          type = types.nullOr (types.strMatching "[^/]+/[^/]+");
          default = null;
          description = "The GitHub repository, OWNER/NAME. Exactly one of repo and source.";
        };
        source = mkOption {
          type = types.nullOr (types.strMatching "/.*");
          default = null;
          description = "A local git repository (absolute path) instead of GitHub.";
        };
        ref = mkOption {
          type = types.nullOr types.str;
          default = null;
          description = "Branch, tag or commit (default: the repository's default branch).";
        };
        path = mkOption {
          type = types.strMatching "/.+";
          description = "The target directory (absolute). Its parent is made writable for the unit.";
        };
        command = mkOption {
          type = types.enum [
            "update"
            "sync"
          ];
          default = "update";
          description = "update: validate, sync, rebuild, validate, rolling back on failure; sync: files only.";
        };
        interval = mkOption {
          type = types.str;
          default = "*:0/15";
          description = "An OnCalendar= expression (with Persistent=true), or a timespan such as \"15min\" (OnUnitActiveSec=).";
        };
        splay = mkOption {
          type = types.str;
          default = "5min";
          description = "RandomizedDelaySec= of the timer, so a fleet does not wake at once.";
        };
        rebuild = mkOption {
          type = types.nullOr types.str;
          default = null;
          description = "The rebuild command ({action}, {target}, {hostname} substituted); default: nixos-rebuild through systemd-run, outside the sandbox.";
        };
        skipRebuild = mkOption {
          type = types.bool;
          default = false;
          description = "Run no rebuild after a switch.";
        };
        tokenFile = mkOption {
          # A string, never a Nix path: a path literal would copy the token into the world-readable Nix store.
          type = types.nullOr (types.strMatching "/.+");
          default = null;
          description = "A file holding the GitHub token, passed to the unit with LoadCredential= (e.g. /run/keys/gh).";
        };
        transport = mkOption {
          type = types.nullOr (
            types.enum [
              "auto"
              "pack"
              "raw"
            ]
          );
          default = null;
          description = "auto, pack or raw (default: smart-sync's, auto).";
        };
        linkMode = mkOption {
          type = types.nullOr (
            types.enum [
              "auto"
              "hardlink"
              "reflink"
              "copy"
            ]
          );
          default = null;
          description = "How files go from the store into the target (default: smart-sync's, auto).";
        };
        exclude = mkOption {
          type = types.nullOr (types.listOf types.str);
          default = null;
          description = "Globs of paths left alone.";
        };
        keepGenerations = mkOption {
          type = types.nullOr types.int;
          default = null;
          description = "Previous trees kept for rollback (default: smart-sync's, 3).";
        };
        apiUrl = mkOption {
          type = types.nullOr types.str;
          default = null;
          description = "REST API root (GitHub Enterprise: https://HOST/api/v3).";
        };
        rawUrl = mkOption {
          type = types.nullOr types.str;
          default = null;
          description = "Raw content root.";
        };
        gitUrl = mkOption {
          type = types.nullOr types.str;
          default = null;
          description = "Where OWNER/REPO.git is served (git smart HTTP).";
        };
        metricsFile = mkOption {
          type = types.nullOr (types.strMatching "/.+");
          default = null;
          description = "Prometheus textfile-collector file; its directory is made writable for the unit.";
        };
        mirrors = mkOption {
          type = types.nullOr (types.listOf types.str);
          default = null;
          description = "Static mirrors written by smart-sync publish, tried in order before the origin (--mirror).";
        };
        trustedKey = mkOption {
          type = types.nullOr (types.strMatching "/.+");
          default = null;
          description = "An allowed_signers file: refs come from the mirrors' signed refs and the origin is never contacted (--trusted-key).";
        };
        allowDowngrade = mkOption {
          type = types.nullOr types.bool;
          default = null;
          description = "Let a sync move the target to a commit that does not descend from its current one (--allow-downgrade); rollback needs no such permission.";
        };
        requireSignedCommits = mkOption {
          type = types.nullOr types.bool;
          default = null;
          description = "Refuse (exit 6) a commit whose own SSH signature does not verify for allowedSigners (--require-signed-commits).";
        };
        allowedSigners = mkOption {
          type = types.nullOr (types.strMatching "/.+");
          default = null;
          description = "The allowed_signers file the commits' signatures are checked against (--allowed-signers).";
        };
        checks = mkOption {
          type = types.nullOr (
            types.enum [
              "builtin"
              "config"
              "none"
            ]
          );
          default = null;
          description = "Which checks update runs: builtin, config ([[check]] tables of settings) or none.";
        };
        extraConfig = mkOption {
          type = types.attrsOf types.anything;
          default = { };
          description = "More keys of [target.${name}], written as given.";
        };
      };
    };
in
{
  options.services.smart-sync = {
    enable = mkEnableOption "smart-sync, keeping directories equal to git refs";

    package = mkOption {
      type = types.package;
      description = "The smart-sync package (with bin/smart-sync). Required: nixpkgs has none; see docs/SERVICE.md.";
    };

    settings = mkOption {
      type = types.attrsOf types.anything;
      default = { };
      description = "The rest of config.toml: [store] (path, state, max_size, …), [sync], [[check]] as `check = [ … ]`.";
    };

    targets = mkOption {
      type = types.attrsOf (types.submodule targetOptions);
      default = { };
      description = "One [target.<name>], service and timer per target.";
    };
  };

  config = mkIf cfg.enable {
    assertions =
      lib.mapAttrsToList (name: t: {
        assertion = (t.repo == null) != (t.source == null);
        message = "services.smart-sync.targets.${name}: set exactly one of repo and source";
      }) cfg.targets
      ++ lib.mapAttrsToList (name: _: {
        assertion = builtins.match "[A-Za-z0-9_-]+" name != null;
        message = "services.smart-sync.targets.${name}: a target name may hold only letters, digits, '-' and '_'";
      }) cfg.targets;

    environment.etc."smart-sync/config.toml".text = configText;

    systemd.services =
      {
        "smart-sync@" = {
          description = "smart-sync update of target %i";
          wants = [ "network-online.target" ];
          after = [ "network-online.target" ];
          # The unit may run nixos-rebuild switch itself: switching must not stop or restart it midway.
          restartIfChanged = false;
          stopIfChanged = false;
          path = servicePath;
          environment = {
            SMART_SYNC_COMMAND = "update";
            NIX_REMOTE = "daemon";
          };
          serviceConfig = hardening // {
            Type = "oneshot";
            ExecStart = "${cfg.package}/bin/smart-sync \${SMART_SYNC_COMMAND} %i";
            TimeoutStartSec = "2h";
          };
        };
      }
      // lib.mapAttrs' (
        name: t:
        lib.nameValuePair "smart-sync@${name}" {
          overrideStrategy = "asDropin";
          # As on the template: switch-to-configuration reads the instance's own settings too.
          restartIfChanged = false;
          stopIfChanged = false;
          path = servicePath;
          environment = {
            SMART_SYNC_COMMAND = t.command;
            NIX_REMOTE = "daemon";
          };
          serviceConfig = {
            ReadWritePaths = writable t;
          } // lib.optionalAttrs (t.tokenFile != null) { LoadCredential = [ "gh-token:${t.tokenFile}" ]; };
        }
      ) cfg.targets;

    systemd.timers = lib.mapAttrs' (
      name: t:
      lib.nameValuePair "smart-sync@${name}" {
        description = "smart-sync ${t.command} of target ${name}";
        wantedBy = [ "timers.target" ];
        timerConfig =
          (
            if isTimespan t.interval then
              {
                OnBootSec = t.interval;
                OnUnitActiveSec = t.interval;
              }
            else
              {
                OnCalendar = t.interval;
                Persistent = true;
              }
          )
          // {
            RandomizedDelaySec = t.splay;
          };
      }
    ) cfg.targets;
  };
}
