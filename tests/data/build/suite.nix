# Derivations for tests/build.sh.  Every builder is /bin/sh with absolute
# paths to the host's tools: the test builders have no Nix-built shell.
{ nonce ? "0", bigfile ? ./suite.nix }:
let
  sys = "x86_64-linux";
  sh = script: name: extra: derivation ({
    inherit name nonce;
    system = sys;
    builder = "/bin/sh";
    args = [ "-c" script ];
  } // extra);
in rec {
  # the manual's example: only the builder declaring x86_64-darwin takes it
  darwin = derivation {
    name = "darwin-hello"; inherit nonce;
    system = "x86_64-darwin"; builder = "/bin/sh";
    args = [ "-c" "echo hello from a pretend mac > $out" ];
  };

  # two outputs, input sources of every kind, awkward environment strings
  multi = sh ''
    /bin/mkdir -p $out $dev
    /bin/cp -R ${./src} $out/src
    printf '%s' "$quotes" > $out/quotes
    printf '%s' "$long" > $out/long
    printf '%s' "$unicode" > $dev/unicode
  '' "multi" {
    outputs = [ "out" "dev" ];
    quotes = "a \"double\" 'single' back\\slash\nnew line\ttab $dollar `tick`";
    unicode = "grüße, 日本, ☃";
    long = builtins.concatStringsSep "" (builtins.genList (n: "0123456789") 10000);
  };

  # a chain: each step reads the one before
  step1 = sh "echo 1 > $out" "step1" {};
  # stays on the local machine when it builds (nix.conf max-jobs > 0)
  preferlocal = sh "echo here > $out" "preferlocal" { preferLocalBuild = true; };
  step2 = sh "read x < ${step1}; echo $((x + 1)) > $out" "step2" {};
  step3 = sh "read x < ${step2}; echo $((x + 1)) > $out" "step3" {};

  # placing by bytes: a 3 MB input only builder 1 may build (feature
  # special), two small ones only builder 2 may (special2), and a root
  # either may: it goes where the big one is, not where most are
  placebig = sh "/bin/dd if=/dev/zero of=$out bs=1M count=3 2>/dev/null" "place-big" {
    requiredSystemFeatures = [ "special" ];
  };
  placesmall = builtins.genList (n: sh "echo small ${toString n} > $out"
    "place-small-${toString n}" { requiredSystemFeatures = [ "special2" ]; }) 2;
  place = sh "/bin/cat ${toString placesmall} > $out; /usr/bin/wc -c < ${placebig} >> $out" "place" {};

  # a fan: eight leaves spread over the builders, a root that needs them all
  leaves = builtins.genList (n: sh "echo leaf ${toString n} > $out" "leaf-${toString n}" {}) 8;
  fan = sh "/bin/cat ${toString leaves} > $out" "fan" {};

  # timed leaves: each records when it ran, to show slots are respected
  timed = builtins.genList (n: sh
    "/bin/date +%s%N > $out; /bin/sleep 0.4; /bin/date +%s%N >> $out"
    "timed-${toString n}" {}) 6;
  timedfan = sh "echo ${toString timed} > $out" "timedfan" {};
  timed1 = builtins.elemAt timed 0;

  # six two-second leaves, each recording when it ran: clients on
  # several machines sharing a builder's slots (tests/lease.sh)
  lease = builtins.genList (n: sh
    "/bin/date +%s%N > $out; /bin/sleep 2; /bin/date +%s%N >> $out"
    "lease-${toString n}" {}) 6;
  leasefan = sh "echo ${toString lease} > $out" "leasefan" {};
  lease1 = builtins.elemAt lease 0;

  # only a builder with the (mandatory) feature may build it
  special = sh "echo special > $out" "special" {
    requiredSystemFeatures = [ "special" ];
  };

  # two timed leaves only builder 1 (feature special) may build, and a
  # root anyone may: the second waits for builder 1 while the first runs
  specials = builtins.genList (n: sh
    "/bin/date +%s%N > $out; /bin/sleep 0.4; /bin/date +%s%N >> $out"
    "timed-special-${toString n}" { requiredSystemFeatures = [ "special" ]; }) 2;
  specialfan = sh "echo ${toString specials} > $out" "specialfan" {};

  # needs feature h2, which no test builder has: for `why`
  h2 = sh "echo h2 > $out" "h2" { requiredSystemFeatures = [ "h2" ]; };

  fails = sh "echo this build is going to fail; echo on stderr >&2; exit 3" "fails" {};
  # a fixed-output derivation whose output is not what it says: Nix's 102
  badhash = sh "echo not what was promised > $out" "badhash" {
    outputHashMode = "flat"; outputHashAlgo = "sha256";
    outputHash = "0000000000000000000000000000000000000000000000000000";
  };
  # inputs where only one builder can build each (3 on the pretend mac, 1
  # special), and a root that fits both: it goes where most inputs are
  spspecial = sh "echo special > $out" "sp-special" {
    requiredSystemFeatures = [ "special" ];
  };
  spmac = builtins.genList (n: derivation {
    name = "sp-mac-${toString n}"; inherit nonce;
    system = "x86_64-darwin"; builder = "/bin/sh";
    args = [ "-c" "echo mac ${toString n} > $out" ];
  }) 3;
  sproot = sh "/bin/cat ${spspecial} ${toString spmac} > $out" "sp-root" {};
  # a good branch that is still running when "fails" has failed
  kslow = sh "/bin/sleep 1; echo > $out" "kslow" {};
  kgood = sh "read x < ${kslow}; echo good > $out" "kgood" {};
  # silent for 4 s: max-silent-time 1 must stop it on the builder
  silent = sh "/bin/sleep 4; echo > $out" "silent" {};
  chatty = sh "i=0; while [ $i -lt 2000 ]; do echo line $i; i=$((i + 1)); done; echo > $out" "chatty" {};
  cancel = sh "echo started; /bin/sleep 47; echo > $out" "cancel" {};
  slow = sh "echo sleeping; /bin/sleep 30; echo > $out" "slow" {};
  # for cutting connections: a large input (--arg bigfile PATH), a large
  # output, a build that takes a moment
  big = sh "/usr/bin/wc -c < ${bigfile} > $out" "big" {};
  bigout = sh "/bin/dd if=/dev/urandom of=$out bs=1M count=8 2>/dev/null" "bigout" {};
  cutme = sh "echo started; /bin/sleep 3; echo > $out" "cutme" {};
  # n + 1 seconds each: after any one is built, the others need 1 s more
  slowleaves = builtins.genList (n: sh "/bin/sleep ${toString (n + 1)}; echo ${toString n} > $out" "slow-${toString n}" {}) 8;
  slowfan = sh "/bin/cat ${toString slowleaves} > $out" "slowfan" {};
  # the oddest name Nix allows, and shell syntax in an argument and a
  # variable: they reach the builder as they are, and nothing runs them
  awkward = derivation {
    name = "awk?ward=+-._name"; inherit nonce; system = sys;
    builder = "/bin/sh";
    args = [ "-c" "printf '%s|%s' \"$1\" \"$evil\" > $out" "$0"
      "$(/usr/bin/touch /tmp/nix-offload-pwned-arg); `/usr/bin/touch /tmp/nix-offload-pwned-arg`" ];
    evil = "'; /usr/bin/touch /tmp/nix-offload-pwned-env; '\"$(/usr/bin/touch /tmp/nix-offload-pwned-env)\"";
  };

  riscv = derivation {
    name = "riscv"; inherit nonce; system = "riscv64-linux"; builder = "/bin/sh";
    args = [ "-c" "echo > $out" ];
  };
  riscv2 = derivation {
    name = "riscv2"; inherit nonce; system = "riscv64-linux"; builder = "/bin/sh";
    args = [ "-c" "echo > $out" ];
  };
  both-riscv = sh "echo ${riscv} ${riscv2} > $out" "both-riscv" {};

  # floating content-addressed: its output's path is known only once built
  # (instantiate with experimental-features = ca-derivations)
  floating = sh "echo floating > $out" "floating" {
    __contentAddressed = true; outputHashMode = "recursive";
    outputHashAlgo = "sha256";
  };
  # floating, its contents (so its path) this nonce's own
  floatnonce = sh "echo ${nonce} > $out" "floatnonce" {
    __contentAddressed = true; outputHashMode = "recursive";
    outputHashAlgo = "sha256";
  };
  # floating too, two outputs, one referring to itself and to the other
  # and to floating: Nix resolves it (floating's path in place of its
  # .drv) before its hook sees it
  floatmore = sh "echo ${floating} $out $dev > $out; echo dev > $dev" "floatmore" {
    __contentAddressed = true; outputHashMode = "recursive";
    outputHashAlgo = "sha256"; outputs = [ "out" "dev" ];
  };

  # outputs that refer to what they were built from: a chain whose
  # intermediates stay on the builder, and an output that refers to its
  # sibling
  refmid = sh "echo ${step1} > $out" "refmid" {};
  refchain = sh "echo ${refmid} > $out" "refchain" {};
  refout = sh "/bin/mkdir -p $out $dev; echo $dev > $out/dev-is; echo x > $dev/x" "refout" {
    outputs = [ "out" "dev" ];
  };
  # fixed-output: "hello\n", its sha256 (its path is the nonce's own)
  fixed = sh "echo hello > $out" "fixed-${builtins.substring 0 12 (builtins.hashString "sha256" nonce)}" {
    outputHashMode = "flat"; outputHashAlgo = "sha256";
    outputHash = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
  };

  # a build log with terminal escapes: a title, a screen clear, a colour
  logescapes = sh "printf 'plain \\033]0;pwned\\007\\033[2J\\033[31mred\\033[0m end\\r\\n'; echo > $out" "logescapes" {};
}
