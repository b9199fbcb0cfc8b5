# The derivations behind the golden .drv files in this directory; see gen.sh.
let
  sys = "x86_64-linux";
  ctl = builtins.fromJSON ''"\u0001\u001f\u007f"'';
  simple = derivation {
    name = "simple";
    system = sys;
    builder = "/bin/sh";
    args = [ "-c" "echo > $out" ];
  };
  escapes = derivation {
    name = "escapes";
    system = sys;
    builder = "/bin/sh";
    args = [ "-c" "echo \"quoted\" 'single' \\back\\slash\n\ttab\r" "" ];
    quote = "a\"b";
    backslash = "c\\d\\\\e\\";
    newline = "line1\nline2\n";
    tab = "\tx\t";
    cr = "x\ry\r\n";
    mixed = "a\"b\\c\nd\te\rf";
    utf8 = "grüße, 日本語, 🚀";
    controls = ctl;
    dollar = "$HOME \${x} %s";
    empty = "";
  };
  multi = derivation {
    name = "multi";
    system = sys;
    builder = "/bin/sh";
    args = [ "-c" "for o in $outputs; do echo > \${!o}; done" ];
    outputs = [ "out" "dev" "lib" "bin" ];
  };
  fodFlat = derivation {
    name = "fod-flat";
    system = sys;
    builder = "/bin/sh";
    args = [ "-c" "printf hello > $out" ];
    outputHashMode = "flat";
    outputHashAlgo = "sha256";
    outputHash = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
  };
  fodRec = derivation {
    name = "fod-rec";
    system = sys;
    builder = "/bin/sh";
    args = [ "-c" "mkdir $out" ];
    outputHashMode = "recursive";
    outputHashAlgo = "sha256";
    outputHash = "1zccy1ryg1fv5hpl7yag1bdwlwl8rxmpkgx6vamy8ah5nrp0aaam";
  };
  structured = derivation {
    name = "structured";
    system = sys;
    builder = "/bin/sh";
    args = [ "-c" "true" ];
    __structuredAttrs = true;
    outputs = [ "out" "doc" ];
    preferLocalBuild = true;
    nested = { a = [ 1 2.5 { b = "x\"]}"; c = null; } ]; d = { }; e = [ ]; };
    tricky = "\\\"requiredSystemFeatures\\\": [\"nope\"]";
    requiredSystemFeatures = [ "kvm" "big-parallel" ];
    unicode = "é 日";
    flag = false;
  };
  features = derivation {
    name = "features";
    system = sys;
    builder = "/bin/sh";
    args = [ "-c" "echo > $out" ];
    requiredSystemFeatures = [ "kvm" "nixos-test" "benchmark" ];
    preferLocalBuild = true;
    allowSubstitutes = false;
  };
  deps = derivation {
    name = "deps";
    system = sys;
    builder = "/bin/sh";
    args = [ "-c" "cat ${multi.dev}/x ${multi.lib} ${simple} ${src} ${fodFlat} > $out" ];
    src = builtins.toFile "input.txt" "an input source\n";
    script = ./drvs.nix;
  };
  src = builtins.toFile "src.txt" "another\n";
  ca = derivation {
    name = "ca";
    system = sys;
    builder = "/bin/sh";
    args = [ "-c" "echo > $out" ];
    __contentAddressed = true;
    outputHashMode = "recursive";
    outputHashAlgo = "sha256";
  };
  deferred = derivation {
    name = "deferred";
    system = sys;
    builder = "/bin/sh";
    args = [ "-c" "cat ${ca} > $out" ];
  };
  impure = derivation {
    name = "impure";
    system = sys;
    builder = "/bin/sh";
    args = [ "-c" "echo > $out" ];
    __impure = true;
  };
in
{
  inherit simple escapes multi fodFlat fodRec structured features deps ca
    deferred impure;
}
