#!/usr/bin/env bash

source common.sh

source nix-copy-ssh-common.sh "ssh"
