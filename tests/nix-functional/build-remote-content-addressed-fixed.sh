#!/usr/bin/env bash

source common.sh

file=build-hook-ca-fixed.nix

source build-remote.sh
