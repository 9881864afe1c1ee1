#!/usr/bin/env bash
# t0003-install: `make install DESTDIR=... PREFIX=/usr` run with a PATH that
# holds no hoist (a fresh machine) installs the binary, every man page (one
# per man/*.scd: hoist(1) and one per command of `hoist help`) and both
# completion scripts, printed by the hoist just built; `make uninstall`
# removes them all.
. "$(dirname "$0")/../lib.sh"
test_init

# The make variables naming the build under test: the plain build's hoist is
# ./hoist, the sanitizer build's build-san/hoist; any other binary is named
# by HOIST and never remade (-o).
case $HOIST in
"$TOP/hoist") mk=(BUILDDIR=build) ;;
"$TOP/build-san/hoist") mk=(SANITIZE=1 BUILDDIR=build-san) ;;
*) mk=(HOIST="$HOIST" -o "$HOIST") ;;
esac
# PATH without any directory that holds a hoist.
path=
IFS=: read -ra dirs <<<"$PATH"
for d in "${dirs[@]}"; do
	[[ -n $d && ! -x $d/hoist ]] && path+=${path:+:}$d
done
if PATH=$path type -P hoist >/dev/null; then
	test_not_ok "PATH holds no hoist" "$(PATH=$path type -P hoist)"
else
	test_ok "PATH holds no hoist"
fi

dest=$TEST_DIR/dest
expect_success "make install DESTDIR=... PREFIX=/usr" \
	env PATH="$path" make -s -C "$TOP" "${mk[@]}" DESTDIR="$dest" PREFIX=/usr install

[[ -x $dest/usr/bin/hoist ]] && cmp -s "$dest/usr/bin/hoist" "$HOIST" &&
	test_ok "the binary is installed" || test_not_ok "the binary is installed"

# Man pages: exactly one per man/*.scd, and those are hoist(1) and one per command.
want=$(cd "$TOP/man" && ls -- *.scd | sed 's/\.scd$//')
got=$(ls -- "$dest/usr/share/man/man1" 2>/dev/null)
[[ -n $want && $got == "$want" ]] && test_ok "every man page is installed" ||
	test_not_ok "every man page is installed" "want:" "$want" "got:" "$got"
expect_success "hoist help lists the commands" hoist help
ncmds=$(awk '/^commands:$/ { on = 1; next } /^$/ { on = 0 } on' "$OUT" | wc -l)
npages=$(wc -l <<<"$got")
((ncmds > 0 && npages == ncmds + 1)) && test_ok "one man page per command, and hoist(1)" ||
	test_not_ok "one man page per command, and hoist(1)" "$npages pages, $ncmds commands"

# Completion scripts: what this hoist prints.
expect_success "completion bash" hoist completion bash
compare "the bash completion is installed" "$OUT" "$dest/usr/share/bash-completion/completions/hoist"
expect_success "completion zsh" hoist completion zsh
compare "the zsh completion is installed" "$OUT" "$dest/usr/share/zsh/site-functions/_hoist"

expect_success "make uninstall DESTDIR=... PREFIX=/usr" \
	env PATH="$path" make -s -C "$TOP" "${mk[@]}" DESTDIR="$dest" PREFIX=/usr uninstall
left=$(find "$dest" ! -type d)
[[ -z $left ]] && test_ok "make uninstall removes every file" ||
	test_not_ok "make uninstall removes every file" "$left"

test_done
