#!/usr/bin/env bash
# t0001-cli - the dispatcher: help, version, exit statuses (0 ok, 1 failed,
# 2 usage), unknown commands, global options before and after the command,
# checked stdout.  The --help texts are compared with tests/golden/ exactly:
# when an interface change is intended, regenerate them with
#   hoist --help >tests/golden/hoist-help.txt
#   hoist help version >tests/golden/hoist-help-version.txt
# and review the diff.
. "$(dirname "$0")/../lib.sh"
test_init
GOLDEN=$TOP/tests/golden

# stderr must be empty / stdout must be empty: a check of the last command.
no_stderr() { [[ ! -s $ERR ]] && test_ok "$1" || test_not_ok "$1" "stderr: $(head -c 300 "$ERR")"; }
no_stdout() { [[ ! -s $OUT ]] && test_ok "$1" || test_not_ok "$1" "stdout: $(head -c 300 "$OUT")"; }
# stderr of the last command matches the extended regex $2 on some line.
stderr_has() {
	grep -qE -- "$2" "$ERR" && test_ok "$1" || test_not_ok "$1" "stderr: $(head -c 300 "$ERR")"
}
stderr_is() {
	[[ $(cat "$ERR") == "$2" ]] && test_ok "$1" || test_not_ok "$1" "stderr: $(cat "$ERR")" "want: $2"
}
to_full() { hoist "$@" >/dev/full; }

# --- help ---------------------------------------------------------------
expect_success "hoist --help succeeds" hoist --help
compare "hoist --help matches the golden file" "$GOLDEN/hoist-help.txt" "$OUT"
no_stderr "hoist --help writes nothing to stderr"
cp "$OUT" main-help.txt
expect_success "hoist help succeeds" hoist help
compare "hoist help is hoist --help" main-help.txt "$OUT"
expect_success "hoist -h succeeds" hoist -h
compare "hoist -h is hoist --help" main-help.txt "$OUT"
for c in help version; do
	grep -qE "^   $c +[a-z]" main-help.txt && test_ok "--help lists '$c' with a summary" ||
		test_not_ok "--help lists '$c' with a summary"
done
for o in --verbose --quiet --platform --insecure --cache --jobs --offline --version; do
	grep -qe "$o" main-help.txt && test_ok "--help lists $o" || test_not_ok "--help lists $o"
done

expect_success "hoist help version succeeds" hoist help version
compare "hoist help version matches the golden file" "$GOLDEN/hoist-help-version.txt" "$OUT"
expect_success "hoist version --help succeeds" hoist version --help
compare "hoist version --help is hoist help version" "$GOLDEN/hoist-help-version.txt" "$OUT"
expect_success "hoist version -h succeeds" hoist version -h
compare "hoist version -h is hoist help version" "$GOLDEN/hoist-help-version.txt" "$OUT"
expect_output "hoist help help starts with its usage" "usage: hoist help [<command> [<sub-command>]]" \
	sh -c '"$HOIST" help help | head -n 1'

expect_code 2 "bare hoist is a usage error" hoist
no_stdout "bare hoist writes nothing to stdout"
stderr_has "bare hoist lists the commands on stderr" "^   version +print"
stderr_has "bare hoist shows the usage" "^usage: hoist "

# --- version ------------------------------------------------------------
expect_success "hoist --version succeeds" hoist --version
grep -qE '^hoist [^ ]+$' "$OUT" && [[ $(wc -l <"$OUT") -eq 1 ]] &&
	test_ok "--version prints 'hoist VERSION'" || test_not_ok "--version prints 'hoist VERSION'"
cp "$OUT" version.txt
expect_success "hoist version succeeds" hoist version
compare "hoist version is hoist --version" version.txt "$OUT"
expect_code 2 "hoist version with an argument is a usage error" hoist version extra
stderr_is "an unexpected argument is named" "error: unexpected argument 'extra'
usage: hoist version"
expect_code 2 "an argument after -- is an argument" hoist version -- -v

# version -v shows the resolved platform and cache directory.
expect_output "version -v: platform and cache" "$(cat version.txt)
platform: linux/arm64/v8
cache: $HOME/.cache/hoist" hoist -v --platform linux/aarch64 version
expect_output "cache: \$XDG_CACHE_HOME/hoist" "cache: /xdg/hoist" \
	sh -c 'XDG_CACHE_HOME=/xdg "$HOIST" version -v | tail -n 1'
expect_output "cache: a relative XDG_CACHE_HOME is ignored" "cache: $HOME/.cache/hoist" \
	sh -c 'XDG_CACHE_HOME=rel "$HOIST" version -v | tail -n 1'
expect_output "cache: \$HOIST_CACHE wins over XDG" "cache: /hc" \
	sh -c 'HOIST_CACHE=/hc XDG_CACHE_HOME=/xdg "$HOIST" version -v | tail -n 1'
expect_output "cache: --cache wins over \$HOIST_CACHE" "cache: /opt" \
	sh -c 'HOIST_CACHE=/hc "$HOIST" version -v --cache /opt | tail -n 1'
expect_output "cache: an empty \$HOIST_CACHE is unset" "cache: /xdg/hoist" \
	sh -c 'HOIST_CACHE= XDG_CACHE_HOME=/xdg "$HOIST" version -v | tail -n 1'
expect_code 1 "no HOME and no cache setting fails" env -u HOME -u XDG_CACHE_HOME "$HOIST" version -v
stderr_has "no HOME: says so" "^error: cannot find the cache directory: HOME is not set$"

# --- unknown commands ---------------------------------------------------
expect_code 2 "an unknown command is a usage error" hoist hlep
stderr_is "an unknown command gets a suggestion" "error: 'hlep' is not a hoist command
hint: the most similar command is 'help'"
no_stdout "an unknown command writes nothing to stdout"
expect_code 2 "a transposed command name" hoist verison
stderr_is "a transposition is suggested" "error: 'verison' is not a hoist command
hint: the most similar command is 'version'"
expect_code 2 "a prefix of a command" hoist vers
stderr_has "a prefix is suggested" "^hint: the most similar command is 'version'$"
expect_code 2 "a command unlike any" hoist xyzzy
stderr_is "no suggestion when nothing is close" "error: 'xyzzy' is not a hoist command"
expect_code 2 "hoist help on an unknown command" hoist help xyzzy
stderr_is "hoist help names the unknown command" "error: 'xyzzy' is not a hoist command"
expect_code 2 "hoist help with too many arguments" hoist help version a b
expect_code 2 "control characters in a command name" hoist $'x\033[31my'
stderr_is "control characters are replaced" "error: 'x?[31my' is not a hoist command"

# --- usage errors -------------------------------------------------------
expect_code 2 "an unknown global option" hoist --nope version
stderr_is "an unknown option is named, with the usage" "error: unknown option '--nope'
usage: hoist [options] <command> [<args>]"
expect_code 2 "an unknown option after the command" hoist version --nope
stderr_is "it is reported with the command's usage" "error: unknown option '--nope'
usage: hoist version"
expect_code 2 "an unknown short option" hoist -Z version
expect_code 2 "a missing option value" hoist version --cache
stderr_has "a missing value is named" "^error: option '--cache' needs a value$"
expect_code 2 "a value for a flag" hoist --quiet=yes version
expect_code 2 "an ambiguous abbreviation" hoist --ver
stderr_has "an ambiguous abbreviation is explained" "^error: ambiguous option '--ver' \(could be "
expect_code 2 "--jobs 0 is rejected" hoist --jobs 0 version
stderr_has "--jobs 0: the range is given" "^error: option '--jobs': '0' is not in the range 1\.\.64$"
expect_code 2 "--jobs 65 is rejected" hoist --jobs 65 version
expect_code 2 "--jobs abc is rejected" hoist version --jobs abc
expect_code 2 "--jobs with a huge number is rejected" hoist --jobs 99999999999999999999 version
expect_code 2 "--platform linux is rejected" hoist --platform linux version
stderr_has "--platform linux: the parser's message" "^error: option '--platform': .*linux"
expect_code 2 "--platform linux after the command is rejected" hoist version --platform linux
expect_code 2 "--platform with an empty value is rejected" hoist --platform= version

# --- global options before and after the command ------------------------
expect_output "every global option before the command" "$(cat version.txt)" \
	hoist -q --insecure --offline --jobs 8 --cache dir --platform linux/arm64 version
expect_output "every global option after the command" "$(cat version.txt)" \
	hoist version -q --insecure --offline --jobs=8 --cache=dir --platform=linux/amd64/v2
expect_output "global options on both sides, abbreviated" "$(cat version.txt)" \
	hoist --off --jobs 2 version --insec --jobs 64
expect_output "the last --cache wins" "cache: $TEST_DIR/b" \
	sh -c '"$HOIST" --cache /a -v version --cache "$PWD/b" | tail -n 1'
expect_success "-vv is accepted" hoist -vv version
expect_success "-v -q is accepted" hoist -v version -q

# --- stdout failures ----------------------------------------------------
expect_code 1 "hoist --help >/dev/full fails" to_full --help
stderr_has "a failed stdout is reported" "^error: cannot write to stdout: "
expect_code 1 "hoist version >/dev/full fails" to_full version
expect_code 1 "hoist help version >/dev/full fails" to_full help version
expect_code 2 "a usage error stays a usage error with stdout full" to_full --jobs 0 version

test_done
