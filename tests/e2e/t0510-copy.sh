#!/usr/bin/env bash
# t0510-copy: `hoist copy` (and `cp`) between real registries: digests kept,
# blobs streamed (a 3 MB layer goes through the ring) or mounted within one
# registry, --all-tags, --no-clobber, --platform, a failed upload retried, and
# a corrupt source blob refused before any manifest reaches the destination.
. "$(dirname "$0")/../lib.sh"
test_init
export HOIST_RETRY_BASE_MS=10

registry_start --name a || { test_not_ok "registry a starts"; test_done; }
registry_start --name b || { test_not_ok "registry b starts"; test_done; }
A=$REGISTRY_a
B=$REGISTRY_b

d1=$(mk_image src one)
hoist push src "$A/src/one:1" >/dev/null || test_not_ok "seed push"

# --- between registries -------------------------------------------------------
expect_output "copy between registries" "$B/dst/one@$d1" hoist copy "$A/src/one:1" "$B/dst/one:1"
expect_output "skopeo sees the same digest" "$d1" sk_digest "$B/dst/one:1"
expect_success "skopeo can pull the copy" \
	skopeo --insecure-policy copy -q --src-tls-verify=false "docker://$B/dst/one:1" oci:back:b
skopeo inspect --tls-verify=false --raw "docker://$B/dst/one:1" >copy.manifest
compare "the manifest bytes are unchanged" "src/blobs/sha256/${d1#sha256:}" copy.manifest
before=$(blob_writes "$REGISTRY_LOG_b")
expect_output "copy again" "$B/dst/one@$d1" hoist cp "$A/src/one:1" "$B/dst/one:1"
((before == $(blob_writes "$REGISTRY_LOG_b"))) && test_ok "copying again uploads no blob" ||
	test_not_ok "copying again uploads no blob"
expect_output "copy by digest" "$B/dst/bydigest@$d1" hoist copy "$A/src/one@$d1" "$B/dst/bydigest@$d1"
expect_output "--jobs 1" "$B/dst/j1@$d1" hoist --jobs 1 copy "$A/src/one:1" "$B/dst/j1:1"

# --- within one registry: mounts, no data -------------------------------------
before=$(blob_writes "$REGISTRY_LOG_a")
expect_output "copy within a registry" "$A/other/one@$d1" hoist copy "$A/src/one:1" "$A/other/one:x"
n=$(grep -c '"POST /v2/other/one/blobs/uploads/?mount=sha256%3A[0-9a-f]*&from=src%2Fone ' "$REGISTRY_LOG_a")
((n == 3 && before == $(blob_writes "$REGISTRY_LOG_a"))) && test_ok "the blobs were mounted" ||
	test_not_ok "the blobs were mounted" "$n mounts"
expect_output "the mounted copy is whole" "$d1" sk_digest "$A/other/one:x"

# --- --no-clobber ----------------------------------------------------------------
d2=$(mk_image src two)
hoist push src@two "$A/src/two:1" >/dev/null || test_not_ok "seed push two"
expect_code 1 "--no-clobber refuses to overwrite another image" \
	hoist copy --no-clobber "$A/src/two:1" "$B/dst/one:1"
grep -q "no-clobber" "$ERR" && test_ok "the refusal says why" || test_not_ok "the refusal says why" "$(cat "$ERR")"
expect_output "the tag is unchanged" "$d1" sk_digest "$B/dst/one:1"
expect_output "--no-clobber with the same image succeeds" "$B/dst/one@$d1" \
	hoist copy -n "$A/src/one:1" "$B/dst/one:1"
expect_output "without --no-clobber the tag moves" "$B/dst/one@$d2" hoist copy "$A/src/two:1" "$B/dst/one:1"
expect_output "skopeo sees the new image" "$d2" sk_digest "$B/dst/one:1"

# --- --all-tags -------------------------------------------------------------------
for t in t1 t2 t3; do hoist push src@one "$A/tags/repo:$t" >/dev/null; done
hoist push src@two "$A/tags/repo:t4" >/dev/null
expect_success "--all-tags" hoist copy --all-tags "$A/tags/repo" "$B/tags/copy"
sort "$OUT" >all.out
printf '%s\n' "$B/tags/copy:t1@$d1" "$B/tags/copy:t2@$d1" "$B/tags/copy:t3@$d1" \
	"$B/tags/copy:t4@$d2" >all.want
compare "--all-tags prints every tag" all.want all.out
expect_output "skopeo lists the tags" "t1 t2 t3 t4" \
	sh -c "skopeo list-tags --tls-verify=false 'docker://$B/tags/copy' | jq -r '.Tags | sort | join(\" \")'"
expect_code 2 "--all-tags wants repositories" hoist copy --all-tags "$A/tags/repo:t1" "$B/tags/x"

# --- an index: whole, or one platform ------------------------------------------
rm -rf multi
da=$(mk_image multi amd64 amd64 2000000)
db=$(mk_image multi arm64 arm64 2000000)
hoist push --index multi "$A/multi/idx:1" >/dev/null || test_not_ok "push the index"
idx=$(skopeo inspect --tls-verify=false --raw "docker://$A/multi/idx:1" | sha256sum | sed 's/^/sha256:/; s/ .*//')
expect_output "an index is copied whole" "$B/multi/all@$idx" hoist copy "$A/multi/idx:1" "$B/multi/all:1"
expect_output "both children are there" "$da" sk_digest "$B/multi/all@$da"
expect_output "both children are there (arm64)" "$db" sk_digest "$B/multi/all@$db"
expect_output "--platform picks one child" "$B/multi/arm@$db" \
	hoist copy --platform linux/arm64 "$A/multi/idx:1" "$B/multi/arm:1"
expect_code 1 "the other child was not copied" sk_digest "$B/multi/arm@$da"
expect_code 1 "--platform with no such child fails" \
	hoist copy --platform linux/s390x "$A/multi/idx:1" "$B/multi/s390x:1"

# --- a failed upload is retried ---------------------------------------------------
if fault_server_start --name put --upstream "$B" --status-once 500 \
	--status-match '^PUT /v2/.*/blobs/uploads/'; then
	expect_output "copy through a PUT that fails once" "$FAULT_put/flaky/one@$d1" \
		hoist copy "$A/src/one:1" "$FAULT_put/flaky/one:1"
	grep -q 'status=500 action=status-once' "$FAULT_LOG_put" &&
		test_ok "the destination did fail one upload" ||
		test_not_ok "the destination did fail one upload"
	expect_output "the copy is whole" "$d1" sk_digest "$B/flaky/one:1"
	fault_server_stop put
else
	test_not_ok "fault-server starts"
fi

# --- a corrupt source blob -----------------------------------------------------
d3=$(mk_image src three)
hoist push src@three "$A/src/three:1" >/dev/null || test_not_ok "seed push three"
if fault_server_start --name bad --upstream "$A" --corrupt-blob; then
	expect_code 1 "a corrupt source blob fails the copy" \
		hoist copy "$FAULT_bad/src/three:1" "$B/corrupt/three:1"
	grep -qi "digest" "$ERR" && test_ok "the error is about the digest" ||
		test_not_ok "the error is about the digest" "$(cat "$ERR")"
	expect_code 1 "the destination got no manifest" sk_digest "$B/corrupt/three:1"
	big=$(jq -r '.layers[0].digest' "src/blobs/sha256/${d3#sha256:}")
	expect_code 22 "nor the streamed layer" \
		curl -sf -o /dev/null -I "$REGISTRY_URL_b/v2/corrupt/three/blobs/$big"
	grep -q '"PUT /v2/corrupt/three/blobs/uploads/[^ ]*digest=sha256%3A'"${big#sha256:}" "$REGISTRY_LOG_b" &&
		test_not_ok "the streamed upload was never closed" ||
		test_ok "the streamed upload was never closed"
	fault_server_stop bad
else
	test_not_ok "fault-server starts"
fi

expect_code 2 "one operand is a usage error" hoist copy "$A/src/one:1"
expect_code 1 "a missing source fails" hoist copy "$A/src/none:1" "$B/dst/none:1"

test_done
