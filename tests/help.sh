# Help: `nix-offload help`, `CMD --help` and usage errors, all from one
# table (src/usage.c), held to the man page: each command's synopsis in
# SYNOPSIS and in its COMMANDS item has the words of its usage line, and
# the options its --help lists are exactly those of its synopsis.

# man_synopses: nix-offload.1's commands, a tab-separated line each:
# "syn NAME ALIAS WORDS" from SYNOPSIS (.Cm NAME [| ALIAS] starts a
# command's synopsis, .Nm or .Pp ends it) and "it NAME - WORDS" from the
# .It Cm lines of COMMANDS, WORDS as mdoc renders them (Op, Oo and Oc
# brackets, a dash for each Fl, Ns joining).
man_synopses() {
	awk '
	function render(k,    i, w, out, glue, pre, fl, shut) {
		out = ""; glue = 1; pre = ""; fl = 0; shut = ""
		for (i = k; i <= NF; i++) {
			w = $i
			if (w == "Op" || w == "Oo") {
				out = out (glue ? "" : " ") "["
				glue = 1; fl = 0
				if (w == "Op")
					shut = shut "]"
			} else if (w == "Oc") {
				out = out "]"; glue = 0; fl = 0
			} else if (w == "Ns")
				glue = 1
			else if (w == "Fl") {
				pre = pre "-"; fl = 1
			} else if (w == "Ar" || w == "Cm") {
				pre = ""; fl = 0
			} else {
				if (w ~ /^(\||\.\.\.|,)$/)
					pre = ""
				else if (pre == "" && fl)
					pre = "-"
				out = out (glue ? "" : " ") pre w
				glue = 0; pre = ""
			}
		}
		return out shut
	}
	function flush() {
		if (name != "")
			printf "syn\t%s\t%s\t%s\n", name, alias, words
		name = ""
	}
	/^\.Sh / { flush(); sec = $2; next }
	sec == "SYNOPSIS" && /^\.(Nm|Pp)/ { flush(); next }
	sec == "SYNOPSIS" && /^\.Cm / {
		flush()
		name = $2; alias = "-"; k = 3
		if ($3 == "|") {
			alias = $4; k = 5
		}
		words = render(k)
		next
	}
	sec == "SYNOPSIS" && name != "" {
		sub(/^\./, "")
		line = render(1)
		words = words (words != "" && line != "" ? " " : "") line
	}
	sec == "COMMANDS" && /^\.It Cm / {
		name = $3
		printf "it\t%s\t-\t%s\n", name, render(4)
		name = ""
	}' "$TOP/nix-offload.1"
}

# man_field KIND NAME N: field N of man_synopses' KIND line for NAME
man_field() {
	awk -F '\t' -v k="$1" -v c="$2" -v n="$3" \
	    '$1 == k && $2 == c { print $n }' "$T/man"
}

# help_words FILE: the words of the usage line a --help printed, after
# "usage: nix-offload CMD", however it was wrapped
help_words() {
	awk 'NR > 1 && (/^$/ || /^ *or: /) { exit } { print }' "$1" |
	    tr -s ' \n' '  ' | sed 's/^usage: nix-offload [^ ]* *//; s/ *$//'
}

# help_options FILE: the first name of each option a --help lists, sorted
help_options() {
	awk '/^options:$/ { f = 1; next } /^$/ { f = 0 }
	    f { sub(/^ +/, ""); split($0, a, / [ ]+/); split(a[1], n, /[ ,]/);
	    print n[1] }' "$1" | sort
}

# help_aliases FILE: the other names of options ("--keep-going, -k": -k)
help_aliases() {
	awk '/^options:$/ { f = 1; next } /^$/ { f = 0 }
	    f { sub(/^ +/, ""); split($0, a, / [ ]+/);
	    n = split(a[1], w, /, /); for (i = 2; i <= n; i++) print w[i] }' "$1"
}

# synopsis_options WORDS: the options a synopsis names, sorted;
# builder-options are --builders and --option
synopsis_options() {
	echo "$1" | tr ' ' '\n' | tr -d '[]' | sed -n \
	    -e 's/^builder-options$/--builders\n--option/p' -e '/^-/p' | sort -u
}

# Every command that `help` lists: its --help exits 0, on stdout alone,
# starting with its usage line, whose words are its synopsis in the man
# page (SYNOPSIS and COMMANDS alike), and lists exactly the options of
# that synopsis.  The man page has the same commands.
t_help_commands() {
	man_synopses >"$T/man" || fail "cannot read nix-offload.1"
	run all "$NO" help
	expect_rc 0
	[ -s "$T/all.err" ] && fail "help wrote on stderr"
	cmds=$(awk '/^commands:$/ { f = 1; next } /^$/ { f = 0 }
	    f && /^  [a-z_]/ { print $1 }' "$T/all.out")
	[ "$(echo "$cmds" | wc -l)" -ge 9 ] || fail "help lists $(echo $cmds)"
	for k in syn it; do
		[ "$(awk -F '\t' -v k=$k '$1 == k { print $2 }' "$T/man" | sort)" = \
		    "$(echo "$cmds" | sort)" ] ||
		    fail "the man page's $k commands are $(awk -F '\t' -v k=$k '$1 == k { printf "%s ", $2 }' "$T/man"), help lists $(echo $cmds)"
	done
	sed -n '/^\.Sh COMMANDS/,/^\.Sh [^C]/p' "$TOP/nix-offload.1" >"$T/commands.1"
	for c in $cmds; do
		run "$c" "$NO" "$c" --help
		expect_rc 0
		[ -s "$T/$c.err" ] && fail "$c --help wrote on stderr"
		[ -s "$T/$c.out" ] || fail "$c --help printed nothing"
		head -1 "$T/$c.out" | grep -Eq "^usage: nix-offload $c( |\$)" ||
		    fail "$c --help begins \"$(head -1 "$T/$c.out")\""
		words=$(help_words "$T/$c.out")
		for k in syn it; do
			[ "$words" = "$(man_field $k "$c" 4)" ] ||
			    fail "$c: --help says \"$words\", the man page's $k \"$(man_field $k "$c" 4)\""
		done
		alias=$(sed -n 's/^   or: nix-offload \([^ ]*\).*/\1/p' "$T/$c.out")
		[ "${alias:--}" = "$(man_field syn "$c" 3)" ] ||
		    fail "$c: --help has the other name \"$alias\", the man page \"$(man_field syn "$c" 3)\""
		help_options "$T/$c.out" >"$T/$c.help-opts"
		synopsis_options "$(man_field syn "$c" 4)" >"$T/$c.man-opts"
		cmp -s "$T/$c.help-opts" "$T/$c.man-opts" ||
		    fail "$c: only in --help: $(comm -23 "$T/$c.help-opts" "$T/$c.man-opts" | tr '\n' ' '); only in the man page's synopsis: $(comm -13 "$T/$c.help-opts" "$T/$c.man-opts" | tr '\n' ' ')"
		for a in $(help_aliases "$T/$c.out"); do
			grep -Eq "Fl ${a#-}( |\$)" "$T/commands.1" ||
			    fail "$c: $a is not in the man page's COMMANDS"
		done
	done
	return 0
}

# --help anywhere among a command's arguments, or -h first; not after
# "--", and -h elsewhere is an unknown option.  `help CMD` prints the
# same, for another name of a command too.
t_help_where() {
	run a "$NO" build -A foo --help
	expect_rc 0
	expect_in "$T/a.out" '^usage: nix-offload build '
	[ -s "$T/a.err" ] && fail "build -A foo --help wrote on stderr"
	run b "$NO" -v build -h
	expect_rc 0
	cmp -s "$T/a.out" "$T/b.out" || fail "-v build -h is not build --help"
	run c "$NO" help build
	expect_rc 0
	cmp -s "$T/a.out" "$T/c.out" || fail "help build is not build --help"
	run d "$NO" store-info --json --help
	run e "$NO" ping -h
	run f "$NO" help ping
	cmp -s "$T/d.out" "$T/e.out" && cmp -s "$T/d.out" "$T/f.out" ||
	    fail "ping's help is not store-info's"
	expect_in "$T/d.out" '^   or: nix-offload ping '
	run g "$NO" enable -- --help
	expect_rc 2
	[ -s "$T/g.out" ] && fail "enable -- --help printed help"
	run h "$NO" machines --json -h
	expect_rc 2
	expect_lines "$T/h.err" 1
	expect_in "$T/h.err" '^nix-offload: machines: unknown option -h \(see nix-offload machines --help\)$'
	run i "$NO" help no-such-command
	expect_rc 2
	expect_in "$T/i.err" '^nix-offload: help: unknown command "no-such-command"'
	run j "$NO" help --help
	expect_rc 0
	expect_in "$T/j.out" '^usage: nix-offload help \[command\]$'
	return 0
}

# A usage error: the synopsis the man page has, where to read more, 2;
# an unknown option or one without its words is named, in one line.
t_help_usage() {
	man_synopses >"$T/man" || fail "cannot read nix-offload.1"
	for args in build copy "check a" "machines a" enable store-info \
	    "help a b"; do
		set -- $args
		run u "$NO" $args
		expect_rc 2
		[ -s "$T/u.out" ] && fail "$args: the usage on stdout"
		want="nix-offload: usage: nix-offload $1 $(man_field syn "$1" 4) (see nix-offload $1 --help)"
		grep -qxF -- "$want" "$T/u.err" ||
		    fail "$args: no \"$want\" but $(cat "$T/u.err")"
	done
	for c in build copy check machines enable status why store-info; do
		run o "$NO" $c --bogus x
		expect_rc 2
		expect_lines "$T/o.err" 1
		grep -qxF "nix-offload: $c: unknown option --bogus (see nix-offload $c --help)" "$T/o.err" ||
		    fail "$c --bogus: $(cat "$T/o.err")"
	done
	run w "$NO" build -o
	expect_rc 2
	expect_in "$T/w.err" '^nix-offload: build: -o needs 1 word after it \(see nix-offload build --help\)$'
	# -v, -vv and --verbose: every command's
	for c in "machines" "status" "why -A x $T/none.nix" "check --builders ''" \
	    "enable --all" "store-info ssh://$DOWN" "copy --to ssh://$DOWN /nix/store/x"; do
		run v timeout 60 "$NO" $c -vv
		grep -q "unknown option" "$T/v.err" && fail "$c -vv: $(cat "$T/v.err")"
	done
	return 0
}

# The man page is clean: mandoc's lint, and groff's warnings, this
# machine's and today's (sid's groff, when its tree has one).
t_help_man_lint() {
	run a mandoc -Tlint -W warning "$TOP/nix-offload.1"
	expect_rc 0
	grep -v "mandoc.db" "$T/a.err" >"$T/a.lint" || true
	[ -s "$T/a.lint" ] && fail "mandoc: $(head -3 "$T/a.lint")"
	run b groff -ww -mandoc -z "$TOP/nix-offload.1"
	[ -s "$T/b.err" ] && fail "groff: $(head -3 "$T/b.err")"
	tree=$("$TOP/scripts/trees" dir sid 2>/dev/null) || return 0
	[ -x "$tree/usr/bin/groff" ] || return 0
	run c in_tree sid groff -ww -mandoc -z "$TOP/nix-offload.1"
	[ -s "$T/c.err" ] && fail "sid's groff: $(head -3 "$T/c.err")"
	return 0
}

# The hook's help reads nothing from Nix: its stdin never ends here.
t_help_hook() {
	mkfifo "$T/fifo"
	exec 3<>"$T/fifo"
	mkdir -p "$T/libexec/nix-offload"
	ln -s "$NO" "$T/libexec/nix-offload/build-hook"
	for h in "$NO hook" "$NO __build-remote" \
	    "$T/libexec/nix-offload/build-hook" "$NO hook 7"; do
		for o in --help -h; do
			[ "$h $o" = "$NO hook 7 -h" ] && continue
			run h timeout 10 $h $o <&3
			[ "$RC" = 124 ] && fail "$h $o read its stdin"
			expect_rc 0
			expect_in "$T/h.out" '^usage: nix-offload hook verbosity$'
			[ -s "$T/h.err" ] && fail "$h $o wrote on stderr"
		done
	done
	return 0
}

# `help`, --help and -h print the same; no command at all prints it on
# stderr, and 2.
t_help_global() {
	run a "$NO" help
	run b "$NO" --help
	run c "$NO" -h
	expect_rc 0
	cmp -s "$T/a.out" "$T/b.out" && cmp -s "$T/a.out" "$T/c.out" ||
	    fail "help, --help and -h differ"
	expect_in "$T/a.out" '^  NIX_OFFLOAD_RUNTIME_DIR '
	expect_in "$T/a.out" '^exit status: 0 ok'
	awk 'length > 79 { exit 1 }' "$T/a.out" || fail "help is wider than 79"
	run d "$NO"
	expect_rc 2
	[ -s "$T/d.out" ] && fail "the usage on stdout"
	cmp -s "$T/a.out" "$T/d.err" || fail "no command: not the help on stderr"
	return 0
}
