#!/usr/bin/env bash
# t0720-build-chown: --chown with user and group names, looked up in the
# base image's /etc/passwd and /etc/group (docker's rule: a user without a
# group gets its user ID as group ID), from flags and from a Containerfile
# (COPY, COPY --from), pushed (the base's layers fetched into the cache for
# the lookup, still mounted, not uploaded) and into a layout; owners checked
# with umoci unpack; unknown names, bad syntax and an empty base refused.
. "$(dirname "$0")/../lib.sh"
test_init

registry_start || { test_not_ok "registry starts"; test_done; }
R=$REGISTRY
st() { stat -c '%u:%g' "$1"; }

# a base whose files name users and groups
mkdir -p users/etc ctx/sub
printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1001:1002::/home/app:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n' \
	>users/etc/passwd
printf 'root:x:0:\nstaff:x:50:app\napp:x:1002:\n' >users/etc/group
expect_success "a base with /etc/passwd" hoist build --add users/etc:/etc -t "$R/base/users:1"
echo one >ctx/f1
echo two >ctx/f2
echo three >ctx/sub/f3

# --- flags ------------------------------------------------------------------
expect_success "--chown app:staff" hoist build --base "$R/base/users:1" --add ctx/f1:/a/ \
	--chown app:staff --output oci:l1
expect_success "umoci unpack" umoci unpack --image l1:latest u1
[[ $(st u1/rootfs/a/f1) == 1001:50 ]] && test_ok "names resolved to 1001:50" ||
	test_not_ok "owner" "$(st u1/rootfs/a/f1)"

# --- a Containerfile, pushed --------------------------------------------------
cat >ctx/Containerfile <<EOF
FROM $R/base/users:1 AS files
COPY --chown=nobody:1234 sub /sub/
FROM $R/base/users:1
COPY --chown=app f1 /b/
COPY --chown=1001:app f2 /c/
COPY --from=files --chown=app:staff /sub /d/
EOF
expect_success "build -f with names, pushed" hoist build -f ctx/Containerfile -t "$R/app/names:1" ctx
expect_success "skopeo copies it" skopeo --insecure-policy copy --quiet --src-tls-verify=false \
	"docker://$R/app/names:1" oci:l2:x
expect_success "umoci unpack" umoci unpack --image l2:x u2
[[ $(st u2/rootfs/b/f1) == 1001:1001 ]] && test_ok "a user alone: its ID as the group's (docker)" ||
	test_not_ok "user alone" "$(st u2/rootfs/b/f1)"
[[ $(st u2/rootfs/c/f2) == 1001:1002 ]] && test_ok "a number and a group name" ||
	test_not_ok "number:name" "$(st u2/rootfs/c/f2)"
[[ $(st u2/rootfs/d/f3) == 1001:50 ]] && test_ok "COPY --from with names" ||
	test_not_ok "COPY --from" "$(st u2/rootfs/d/f3)"

# --- refusals -----------------------------------------------------------------
expect_code 1 "an unknown user" hoist build --base "$R/base/users:1" --add ctx/f1:/a/ \
	--chown ghost --output oci:l3
grep -q "no user 'ghost'" "$ERR" && test_ok "the message names the user" ||
	test_not_ok "message" "$(cat "$ERR")"
expect_code 1 "an unknown group" hoist build --base "$R/base/users:1" --add ctx/f1:/a/ \
	--chown app:wheel --output oci:l3
grep -q "no group 'wheel'" "$ERR" && test_ok "the message names the group" ||
	test_not_ok "message" "$(cat "$ERR")"
expect_code 2 "a malformed owner" hoist build --base "$R/base/users:1" --add ctx/f1:/a/ \
	--chown 'a b' --output oci:l3
printf 'FROM scratch\nCOPY --chown=app f1 /\n' >ctx/Scratchfile
expect_code 2 "names on an empty base" hoist build -f ctx/Scratchfile --output oci:l3 ctx
grep -q "no /etc/passwd" "$ERR" && test_ok "says why" || test_not_ok "message" "$(cat "$ERR")"
# numbers need no lookup, even on an empty base
printf 'FROM scratch\nCOPY --chown=7:8 f1 /\n' >ctx/Numfile
expect_success "numbers on an empty base" hoist build -f ctx/Numfile --output oci:l4 ctx
test_done
