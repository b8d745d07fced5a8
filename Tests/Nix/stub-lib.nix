# A stand-in for the parts of nixpkgs' `lib` that nix/module.nix uses, with the same names and meanings, so the module
# can be evaluated in CI with no nixpkgs checkout and no network. Types carry a `check` (used by eval-module.nix to
# refuse bad values the way the NixOS module system does) and, for the nested ones, what they hold.
let
  mkType = name: check: extra: { _type = "option-type"; inherit name check; } // extra;
in
rec {
  # --- attribute sets and lists ---
  nameValuePair = name: value: { inherit name value; };
  mapAttrs = builtins.mapAttrs;
  mapAttrs' = f: set: builtins.listToAttrs (map (n: f n set.${n}) (builtins.attrNames set));
  mapAttrsToList = f: set: map (n: f n set.${n}) (builtins.attrNames set);
  filterAttrs = pred: set: builtins.removeAttrs set (builtins.filter (n: !(pred n set.${n})) (builtins.attrNames set));
  optionalAttrs = cond: set: if cond then set else { };
  optional = cond: x: if cond then [ x ] else [ ];
  optionalString = cond: s: if cond then s else "";
  concatStrings = builtins.concatStringsSep "";
  concatStringsSep = builtins.concatStringsSep;
  unique = builtins.foldl' (acc: x: if builtins.elem x acc then acc else acc ++ [ x ]) [ ];

  # --- the module system ---
  mkOption = attrs: { _type = "option"; } // attrs;
  mkEnableOption = what: mkOption {
    type = types.bool;
    default = false;
    description = "Whether to enable ${what}.";
  };
  mkIf = condition: content: { _type = "if"; inherit condition content; };

  types = rec {
    bool = mkType "bool" builtins.isBool { };
    int = mkType "int" builtins.isInt { };
    str = mkType "str" builtins.isString { };
    anything = mkType "anything" (_: true) { };
    # A derivation in NixOS; here any store path string or attribute set will do.
    package = mkType "package" (v: builtins.isString v || builtins.isAttrs v) { };
    strMatching = re: mkType "string matching ${re}" (v: builtins.isString v && builtins.match re v != null) { };
    enum = values: mkType "one of ${builtins.toJSON values}" (v: builtins.elem v values) { };
    nullOr = t: mkType "null or ${t.name}" (v: v == null || t.check v) { nullOf = t; };
    listOf = t: mkType "list of ${t.name}" (v: builtins.isList v && builtins.all t.check v) { listOf = t; };
    attrsOf = t: mkType "attribute set of ${t.name}" builtins.isAttrs { attrsOf = t; };
    submodule = module: mkType "submodule" builtins.isAttrs { inherit module; };
  };
}
