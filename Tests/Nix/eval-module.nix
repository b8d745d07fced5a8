# A tiny evaluator in the manner of NixOS's module system, enough for nix/module.nix: it gives every declared option
# its value (the definition, else the default; a value of the wrong type, an undeclared option or a missing required
# one is an error naming the option, as in NixOS), resolves mkIf, and checks `assertions`.
#
# Limits, on purpose: one module plus one attribute set of definitions; no priorities or merging of two definitions
# of one option; the module's `config` argument holds the option values only (nix/module.nix reads nothing else).
{ lib }:
let
  isOption = v: builtins.isAttrs v && (v._type or null) == "option";

  # The value `v` given for an option of `type` at `loc`; `name` is the attribute name a submodule sees.
  finalize =
    loc: name: type: v:
    if !(type.check v) then
      throw "The option `${loc}' is not of type `${type.name}' (a ${builtins.typeOf v} was given)."
    else if type ? module then
      declare loc (submoduleOptions type.module name) v
    else if type ? attrsOf then
      builtins.mapAttrs (n: x: finalize "${loc}.${n}" n type.attrsOf x) v
    else if type ? nullOf && v != null then
      finalize loc name type.nullOf v
    else
      v;

  submoduleOptions = module: name: (if builtins.isFunction module then module { inherit name; } else module).options;

  # Option values for the tree of declarations `options`, from the definitions `values`.
  declare =
    loc: options: values:
    let
      join = n: if loc == "" then n else "${loc}.${n}";
      undeclared = builtins.filter (n: !(options ? ${n})) (builtins.attrNames values);
    in
    if undeclared != [ ] then
      throw "The option `${join (builtins.head undeclared)}' does not exist."
    else
      builtins.mapAttrs (
        n: o:
        if isOption o then
          (
            if values ? ${n} then
              finalize (join n) n o.type values.${n}
            else if o ? default then
              o.default
            else
              throw "The option `${join n}' is used but not defined."
          )
        else
          declare (join n) o (values.${n} or { })
      ) options;

  resolve =
    v:
    if builtins.isAttrs v && (v._type or null) == "if" then
      (if v.condition then resolve v.content else { })
    else if builtins.isAttrs v then
      builtins.mapAttrs (_: resolve) v
    else
      v;
in
module: definitions:
let
  declared = (module { config = values; inherit lib; }).options;
  values = declare "" declared definitions;
  config = resolve (module { config = values; inherit lib; }).config;
  failed = builtins.filter (a: !a.assertion) (config.assertions or [ ]);
in
if failed != [ ] then
  throw ("Failed assertions:\n" + lib.concatStrings (map (a: "- ${a.message}\n") failed))
else
  config
