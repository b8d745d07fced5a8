# Renders `systemd.services` and `systemd.timers` definitions as unit files, the way NixOS does for the attributes
# nix/module.nix sets (description, wants, after, wantedBy, path, environment, restartIfChanged, stopIfChanged,
# overrideStrategy, serviceConfig, timerConfig), so the test can run `systemd-analyze verify` on them. The result maps
# file names (`smart-sync@.service`, `smart-sync@NAME.service.d/overrides.conf`, `smart-sync@NAME.timer`) to text.
{ lib }:
systemd:
let
  value = v: if builtins.isBool v then (if v then "true" else "false") else toString v;
  lines =
    attrs:
    lib.concatStrings (
      lib.mapAttrsToList (
        k: v: if builtins.isList v then lib.concatStrings (map (x: "${k}=${value x}\n") v) else "${k}=${value v}\n"
      ) attrs
    );
  section = name: attrs: lib.optionalString (attrs != { }) "[${name}]\n${lines attrs}\n";
  unitSection =
    u:
    lib.optionalAttrs (u ? description) { Description = u.description; }
    // lib.optionalAttrs (u ? wants) { Wants = lib.concatStringsSep " " u.wants; }
    // lib.optionalAttrs (u ? after) { After = lib.concatStringsSep " " u.after; }
    // lib.optionalAttrs ((u.restartIfChanged or true) == false) { X-RestartIfChanged = false; }
    // lib.optionalAttrs ((u.stopIfChanged or true) == false) { X-StopIfChanged = false; };
  installSection = u: lib.optionalAttrs (u ? wantedBy) { WantedBy = lib.concatStringsSep " " u.wantedBy; };
  environment =
    s:
    let
      env =
        (s.environment or { })
        // lib.optionalAttrs (s ? path) {
          PATH = lib.concatStringsSep ":" (builtins.concatMap (p: [ "${p}/bin" "${p}/sbin" ]) s.path);
        };
    in
    lib.optionalAttrs (env != { }) { Environment = lib.mapAttrsToList (k: v: "\"${k}=${v}\"") env; };
  file =
    name: kind: u:
    if (u.overrideStrategy or "asDropinIfExists") == "asDropin" then
      "${name}.${kind}.d/overrides.conf"
    else
      "${name}.${kind}";
  services = lib.mapAttrs' (
    name: s:
    lib.nameValuePair (file name "service" s) (
      section "Unit" (unitSection s)
      + section "Service" (environment s // (s.serviceConfig or { }))
      + section "Install" (installSection s)
    )
  ) (systemd.services or { });
  timers = lib.mapAttrs' (
    name: t:
    lib.nameValuePair (file name "timer" t) (
      section "Unit" (unitSection t) + section "Timer" (t.timerConfig or { }) + section "Install" (installSection t)
    )
  ) (systemd.timers or { });
in
services // timers
