#!/usr/bin/env bash
# t0002-man - the manual pages agree with the program (git's t0450).
#
# The rules, for every command CMD that `hoist help` lists (the first word of
# each line between "commands:" and the next blank line):
#   1. man/hoist-CMD.1.scd exists and has the sections NAME, SYNOPSIS,
#      DESCRIPTION, OPTIONS, EXIT STATUS, ENVIRONMENT, FILES, EXAMPLES and SEE ALSO; scdoc builds it.
#   2. Its NAME line is "hoist-CMD - SUMMARY", SUMMARY being the summary
#      `hoist help` shows.
#   3. SYNOPSIS agrees with the usage: the usage lines of `hoist help CMD`
#      (the text after "usage: " and "   or: ", up to the first blank line)
#      are, in order, the non-empty lines of the SYNOPSIS section once the
#      scdoc markup characters '*', '_' and '\' and a trailing "++" are
#      removed.  So usage "hoist help [<command>]" is written
#      "*hoist help* [<_command_>]".
#   4. Every long option in the "options:" section of `hoist help CMD`
#      (other than --help) appears in the page as "*--NAME*".
#   For a group (its help lists "commands:"), SYNOPSIS continues with the
#   usage lines of each sub-command in order, the page names each in a
#   COMMANDS section ("*SUB*" on a line of its own) and describes every long
#   option of `hoist help CMD SUB` as "*--NAME*".
#   5. man/hoist.1.scd names the command in COMMANDS ("*CMD*" on a line of
#      its own) and the page in SEE ALSO ("*hoist-CMD*(1)").
# And for hoist itself: man/hoist.1.scd's SYNOPSIS agrees with `hoist --help`
# by rule 3, every option of `hoist --help` appears in it as "*--NAME*", its
# EXIT STATUS lists the values of cmd/exit.h, and every man/hoist-X.1.scd
# belongs to a listed command (X is CMD or starts with "CMD-").
. "$(dirname "$0")/../lib.sh"
test_init
MAN=$TOP/man

# The usage lines at the top of a help text on stdin.
usage_lines() { awk '/^$/ { exit } { sub(/^usage: /, ""); sub(/^   or: /, ""); print }'; }
# Section "# $2" of page $1, without the heading, blank lines and markup.
section() {
	awk -v s="# $2" '$0 == s { on = 1; next } /^# / { on = 0 } on && NF' "$1"
}
synopsis_lines() { section "$1" SYNOPSIS | sed 's/[*_\\]//g; s/[[:space:]]*++$//'; }
# The long options of section "$2:" of a help text in file $1.
help_options() {
	awk -v s="$2:" '$0 == s { on = 1; next } /^$/ { on = 0 } on' "$1" |
		grep -oE '^ +(-[a-zA-Z], )?--[a-z0-9_-]+' | sed 's/.*--/--/'
}

expect_success "hoist help succeeds" hoist help
cp "$OUT" main-help.txt
mapfile -t cmds < <(awk '/^commands:$/ { on = 1; next } /^$/ { on = 0 } on { print $1 }' main-help.txt)
((${#cmds[@]} > 0)) && test_ok "hoist help lists commands" || test_not_ok "hoist help lists commands"

for cmd in "${cmds[@]}"; do
	page=$MAN/hoist-$cmd.1.scd
	if [[ ! -f $page ]]; then
		test_not_ok "$cmd: man/hoist-$cmd.1.scd exists"
		continue
	fi
	test_ok "$cmd: man/hoist-$cmd.1.scd exists"
	missing=
	for s in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" ENVIRONMENT FILES EXAMPLES "SEE ALSO"; do
		grep -qx "# $s" "$page" || missing+=" '$s'"
	done
	[[ -z $missing ]] && test_ok "$cmd: the page has the sections" ||
		test_not_ok "$cmd: the page has the sections" "missing:$missing"
	if command -v scdoc >/dev/null; then
		expect_success "$cmd: scdoc builds the page" sh -c 'scdoc <"$1" >/dev/null' sh "$page"
	fi

	summary=$(awk -v c="$cmd" '/^commands:$/ { on = 1; next } /^$/ { on = 0 }
		on && $1 == c { sub(/^ +[^ ]+ +/, ""); print }' main-help.txt)
	name=$(section "$page" NAME | head -n 1)
	[[ $name == "hoist-$cmd - $summary" ]] && test_ok "$cmd: NAME is the summary" ||
		test_not_ok "$cmd: NAME is the summary" "page: $name" "help: hoist-$cmd - $summary"

	expect_success "$cmd: hoist help $cmd succeeds" hoist help "$cmd"
	cp "$OUT" "help-$cmd.txt"
	want=$(usage_lines <"help-$cmd.txt")
	# A group (its help lists "commands:"): SYNOPSIS has the group's usage,
	# then each sub-command's, in order; the page describes their options.
	mapfile -t subs < <(awk '/^commands:$/ { on = 1; next } /^$/ { on = 0 } on { print $1 }' \
		"help-$cmd.txt")
	for sub in "${subs[@]}"; do
		if hoist help "$cmd" "$sub" >"help-$cmd-$sub.txt" 2>/dev/null; then
			want+=$'\n'$(usage_lines <"help-$cmd-$sub.txt")
			missing=
			for o in $(help_options "help-$cmd-$sub.txt" options); do
				[[ $o == --help ]] && continue
				grep -qF -- "*$o*" "$page" || missing+=" $o"
			done
			[[ -z $missing ]] && test_ok "$cmd $sub: the page describes every option" ||
				test_not_ok "$cmd $sub: the page describes every option" "missing:$missing"
			grep -qx "\*$sub\*" <(section "$page" COMMANDS) &&
				test_ok "$cmd $sub: the page lists it in COMMANDS" ||
				test_not_ok "$cmd $sub: the page lists it in COMMANDS"
		else
			test_not_ok "$cmd $sub: hoist help $cmd $sub succeeds"
		fi
	done
	got=$(synopsis_lines "$page")
	[[ -n $want && $want == "$got" ]] && test_ok "$cmd: SYNOPSIS agrees with the usage" ||
		test_not_ok "$cmd: SYNOPSIS agrees with the usage" "usage:" "$want" "SYNOPSIS:" "$got"
	[[ $(head -n 1 "help-$cmd.txt") == "usage: hoist $cmd"* ]] &&
		test_ok "$cmd: the usage starts 'usage: hoist $cmd'" ||
		test_not_ok "$cmd: the usage starts 'usage: hoist $cmd'" "$(head -n 1 "help-$cmd.txt")"

	missing=
	for o in $(help_options "help-$cmd.txt" options); do
		[[ $o == --help ]] && continue
		grep -qF -- "*$o*" "$page" || missing+=" $o"
	done
	[[ -z $missing ]] && test_ok "$cmd: the page describes every option" ||
		test_not_ok "$cmd: the page describes every option" "missing:$missing"

	grep -qx "\*$cmd\*" <(section "$MAN/hoist.1.scd" COMMANDS) &&
		test_ok "$cmd: hoist(1) lists it in COMMANDS" ||
		test_not_ok "$cmd: hoist(1) lists it in COMMANDS"
	grep -qF "*hoist-$cmd*(1)" <(section "$MAN/hoist.1.scd" "SEE ALSO") &&
		test_ok "$cmd: hoist(1) refers to hoist-$cmd(1)" ||
		test_not_ok "$cmd: hoist(1) refers to hoist-$cmd(1)"
done

# hoist(1) itself.
want=$(usage_lines <main-help.txt)
got=$(synopsis_lines "$MAN/hoist.1.scd")
[[ -n $want && $want == "$got" ]] && test_ok "hoist(1): SYNOPSIS agrees with the usage" ||
	test_not_ok "hoist(1): SYNOPSIS agrees with the usage" "usage:" "$want" "SYNOPSIS:" "$got"
missing=
for o in $(help_options main-help.txt options) $(help_options main-help.txt "global options"); do
	grep -qF -- "*$o*" "$MAN/hoist.1.scd" || missing+=" $o"
done
[[ -z $missing ]] && test_ok "hoist(1): describes every global option" ||
	test_not_ok "hoist(1): describes every global option" "missing:$missing"
if command -v scdoc >/dev/null; then
	expect_success "hoist(1): scdoc builds the page" sh -c 'scdoc <"$1" >/dev/null' sh "$MAN/hoist.1.scd"
fi

# EXIT STATUS of hoist(1) lists the values the program uses.
missing=
for v in $(sed -nE 's/^[[:space:]]*EXIT_[A-Z]+ = ([0-9]+),.*/\1/p' "$TOP/cmd/exit.h"); do
	grep -qx "\*$v\*" <(section "$MAN/hoist.1.scd" "EXIT STATUS") || missing+=" $v"
done
[[ -z $missing && -n $(sed -nE 's/^[[:space:]]*EXIT_[A-Z]+ = ([0-9]+),.*/\1/p' "$TOP/cmd/exit.h") ]] &&
	test_ok "hoist(1): EXIT STATUS lists cmd/exit.h" ||
	test_not_ok "hoist(1): EXIT STATUS lists cmd/exit.h" "missing:$missing"

# No page for a command that does not exist.
stale=
for page in "$MAN"/hoist-*.1.scd; do
	[[ -e $page ]] || continue
	x=${page##*/hoist-}
	x=${x%.1.scd}
	ok=
	for cmd in "${cmds[@]}"; do
		[[ $x == "$cmd" || $x == "$cmd"-* ]] && ok=1
	done
	[[ -n $ok ]] || stale+=" ${page##*/}"
done
[[ -z $stale ]] && test_ok "every man/hoist-*.1.scd is a listed command" ||
	test_not_ok "every man/hoist-*.1.scd is a listed command" "stale:$stale"

test_done
