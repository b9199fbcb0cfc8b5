# A stand-in for <nixpkgs>, just enough for the example of Nix's manual
# (with import <nixpkgs> { system = ...; }; runCommand "foo" {} "uname > $out"):
# runCommand NAME ENV SCRIPT runs SCRIPT with /bin/sh on SYSTEM.  Each
# test gives its builds a nonce of their own through the environment (the
# example evaluates with --impure), so that they are built every time.
{ system ? builtins.currentSystem, ... }:
{
  runCommand = name: env: script: derivation (env // {
    inherit name system;
    builder = "/bin/sh";
    args = [ "-c" script ];
    PATH = "/bin:/usr/bin";
    nonce = builtins.getEnv "NIX_OFFLOAD_TEST_NONCE";
  });
}
