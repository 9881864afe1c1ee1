#!/usr/bin/env bash
# t0960-completion: `hoist completion bash|zsh` and `hoist __complete`.  The
# bash script is loaded into this bash and its function driven the way bash
# drives it (COMP_WORDS, COMP_CWORD -> COMPREPLY) for commands, options,
# sub-commands, files and the references of a cache filled by a real pull
# from a docker-registry; `zsh -n` checks the zsh script, and when zsh is
# installed a zsh run loads it and calls it with compadd and _files stubbed.
. "$(dirname "$0")/../lib.sh"
test_init

registry_start || { test_not_ok "registry starts"; test_done; }
R=$REGISTRY
seed_image test/one:1 || { test_not_ok "seed_image"; test_done; }
expect_success "pull into the cache" hoist pull "$R/test/one:1"
seed_image test/two:2 || { test_not_ok "seed_image"; test_done; }
expect_success "pull a second image" hoist pull "$R/test/two:2"

# --- the scripts ----------------------------------------------------------------
expect_success "completion bash prints the script" hoist completion bash
cp "$OUT" hoist.bash
grep -q '^complete .*-F _hoist hoist$' hoist.bash && test_ok "the bash script registers _hoist" ||
	test_not_ok "the bash script registers _hoist"
expect_success "bash -n accepts the bash script" bash -n hoist.bash
expect_success "completion zsh prints the script" hoist completion zsh
cp "$OUT" _hoist
[[ $(head -n 1 _hoist) == "#compdef hoist" ]] && test_ok "the zsh script starts with #compdef" ||
	test_not_ok "the zsh script starts with #compdef"
expect_code 2 "completion needs a shell" hoist completion
expect_code 2 "completion fish is a usage error" hoist completion fish

# --- __complete ------------------------------------------------------------------
# lines LIST...: the expected output, one per line
lines() { printf '%s\n' "$@"; }
expect_output "__complete lists the subcommands of cache" "$(lines ls gc prune rm verify)" \
	hoist __complete cache ''
expect_output "__complete filters by the typed prefix" "$(lines cache catalog)" hoist __complete ca
expect_output "__complete: an option taking a directory" ":dirs" hoist __complete --cache ''
expect_output "__complete: the shells" "$(lines bash zsh)" hoist __complete completion ''
expect_success "__complete: the commands" hoist __complete ''
for c in pull push cache index auth completion; do
	grep -qx "$c" "$OUT" && test_ok "__complete lists '$c'" || test_not_ok "__complete lists '$c'"
done
grep -q "^__complete$" "$OUT" && test_not_ok "__complete is hidden" || test_ok "__complete is hidden"
# every command in `hoist help` is offered: the list is the table, not a copy
mapfile -t cmds < <(hoist help | awk '/^commands:$/ { on = 1; next } /^$/ { on = 0 } on { print $1 }')
missing=
for c in "${cmds[@]}"; do grep -qx "$c" "$OUT" || missing+=" $c"; done
[[ -z $missing ]] && test_ok "__complete offers every command of hoist help" ||
	test_not_ok "__complete offers every command of hoist help" "missing:$missing"
expect_output "__complete: cache refs for cache rm" "$(lines "$R/test/one:1" "$R/test/two:2")" \
	hoist __complete cache rm ''
expect_output "__complete: refs from --cache DIR" "" hoist __complete --cache "$PWD/none" cache rm ''
expect_success "__complete: --cache of the words" hoist __complete --cache "$XDG_CACHE_HOME/hoist" export ''
grep -qx "$R/test/one:1" "$OUT" && test_ok "__complete: --cache DIR is the cache read" ||
	test_not_ok "__complete: --cache DIR is the cache read"
expect_success "__complete: options of cache gc" hoist __complete cache gc --
for o in --dry-run --grace --wait --json --cache --help; do
	grep -qx -- "$o" "$OUT" && test_ok "cache gc offers $o" || test_not_ok "cache gc offers $o"
done
expect_output "__complete: no value candidates for --grace" "" hoist __complete cache gc --grace ''
expect_success "__complete: -f of build takes a file" hoist __complete build -f ''
grep -qx ":files" "$OUT" && test_ok "build -f completes files" || test_not_ok "build -f completes files"
expect_output "__complete: an unknown command has none" "" hoist __complete frobnicate ''

# --- bash: the function as bash calls it ----------------------------------------
# Completion runs the `hoist` function (the binary, or valgrind around it).
source ./hoist.bash
# comp WORD...: COMPREPLY for completing the last WORD, one per line, sorted
comp() {
	COMP_WORDS=(hoist "$@")
	COMP_CWORD=$#
	COMP_LINE="hoist $*"
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	_hoist hoist "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
	printf '%s\n' "${COMPREPLY[@]}" | sort
}
check() { # DESC EXPECTED WORD...
	local desc=$1 want=$2 got
	shift 2
	got=$(comp "$@")
	[[ $got == "$want" ]] && test_ok "bash: $desc" || test_not_ok "bash: $desc" "got: $got" "want: $want"
}
check "a command" "$(lines pull push)" pu
check "a subcommand" "gc" cache g
check "an index subcommand" "$(printf '%s\n' $(hoist __complete index '') | sort)" index ''
check "an option" "--dry-run" cache gc --dr
check "a short option" "-q" cache gc -q
check "a cache ref" "$(lines "$R/test/one:1" "$R/test/two:2")" cache rm ''
check "a ref by prefix" "$R/test/two:2" export "$R/test/t"
# bash splits words at ':' (COMP_WORDBREAKS): "127.0.0.1:PORT/test/o" arrives
# as three words and only the part after the last ':' is replaced.
host=${R%%:*} port=${R#*:}
check "a ref split at ':'" "$port/test/one:1" export "$host" : "$port/test/o"
check "a ref split at its tag ':'" "1" cache rm "$host" : "$port/test/one" : ""
mkdir -p ctxdir && : >Containerfile.test
check "files for build -f" "Containerfile.test" build -f Containerfile.t
check "directories for --cache" "ctxdir" --cache ctx
check "--opt=value split at '='" "ctxdir" --cache = ctx

# --- zsh ----------------------------------------------------------------------------
if command -v zsh >/dev/null; then
	expect_success "zsh -n accepts the zsh script" zsh -n _hoist
	# compadd and _files stubbed: print what would be offered.
	cat >run.zsh <<'EOF'
compadd() { [[ $1 == -- ]] && shift; printf '%s\n' "$@"; }
_files() { print -r -- "<files $*>"; }
compdef() { :; }
source ./_hoist
words=("$@"); CURRENT=$#
_hoist
EOF
	got=$(zsh -f run.zsh "$HOIST" cache rm "" | sort)
	[[ $got == "$(lines "$R/test/one:1" "$R/test/two:2")" ]] && test_ok "zsh: a cache ref" ||
		test_not_ok "zsh: a cache ref" "got: $got"
	got=$(zsh -f run.zsh "$HOIST" cache g)
	[[ $got == gc ]] && test_ok "zsh: a subcommand" || test_not_ok "zsh: a subcommand" "got: $got"
	got=$(zsh -f run.zsh "$HOIST" build -f "")
	[[ $got == "<files >" ]] && test_ok "zsh: files" || test_not_ok "zsh: files" "got: $got"
else
	test_ok "zsh: not installed, only the bash checks ran"
fi

# --- make install-completion / uninstall-completion (what install runs) ----------
dest=$TEST_DIR/dest
if make -s -C "$TOP" HOIST="$HOIST" DESTDIR="$dest" PREFIX=/usr install-completion \
	>make.out 2>&1; then
	cmp -s "$dest/usr/share/bash-completion/completions/hoist" hoist.bash &&
		cmp -s "$dest/usr/share/zsh/site-functions/_hoist" _hoist &&
		test_ok "make install installs both scripts" ||
		test_not_ok "make install installs both scripts"
	make -s -C "$TOP" HOIST="$HOIST" DESTDIR="$dest" PREFIX=/usr uninstall-completion \
		>make.out 2>&1
	[[ ! -e $dest/usr/share/bash-completion/completions/hoist &&
		! -e $dest/usr/share/zsh/site-functions/_hoist ]] &&
		test_ok "make uninstall removes them" || test_not_ok "make uninstall removes them"
else
	test_not_ok "make install" "$(tail -5 make.out)"
fi

test_done
