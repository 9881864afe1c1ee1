#!/usr/bin/env bash
# t0500-push: `hoist push` from OCI layouts and the cache to real registries:
# digests as skopeo sees them, nothing uploaded twice, cross-repository
# mounts, --index, TLS + htpasswd with credentials from $DOCKER_CONFIG, and an
# upload the registry fails once.
. "$(dirname "$0")/../lib.sh"
test_init
export HOIST_RETRY_BASE_MS=10

registry_start || { test_not_ok "registry starts"; test_done; }
R=$REGISTRY

# --- a layout made by skopeo ---------------------------------------------------
mk_image src v1 >/dev/null || test_not_ok "mk_image"
skopeo --insecure-policy copy -q --dest-tls-verify=false oci:src:v1 "docker://$R/orig/one:1" ||
	test_not_ok "skopeo seeds the registry"
want=$(sk_digest "$R/orig/one:1")
skopeo --insecure-policy copy -q --src-tls-verify=false "docker://$R/orig/one:1" oci:sk:ref ||
	test_not_ok "skopeo copies to a layout"
expect_output "push of skopeo's layout prints REPO@DIGEST" "$R/pushed/one@$want" \
	hoist push sk@ref "$R/pushed/one:1"
expect_output "skopeo sees the digest it reported" "$want" sk_digest "$R/pushed/one:1"
expect_success "skopeo can pull the pushed image" \
	skopeo --insecure-policy copy -q --src-tls-verify=false "docker://$R/pushed/one:1" oci:back:b
expect_output "the digest is the one in skopeo's layout" "$want" jq -r '.manifests[0].digest' sk/index.json

# --- push twice: nothing uploaded the second time ----------------------------
before=$(blob_writes "$REGISTRY_LOG")
expect_output "second push" "$R/pushed/one@$want" hoist push --ref ref sk "$R/pushed/one:1"
after=$(blob_writes "$REGISTRY_LOG")
((after == before)) && test_ok "the second push uploads no blob" ||
	test_not_ok "the second push uploads no blob" "$before -> $after blob writes"

# --- the only entry is picked; several need a name ----------------------------
expect_output "a one-image layout needs no name" "$R/only/one@$want" hoist push sk "$R/only/one:1"
mk_image src v2 >/dev/null
expect_code 2 "a layout of several images needs a name (usage)" hoist push src "$R/x/y:1"
grep -q "holds 2 images" "$ERR" && grep -q -- "--ref" "$ERR" &&
	test_ok "the error names the way out" || test_not_ok "the error names the way out" "$(cat "$ERR")"
expect_code 1 "an unknown ref name is refused" hoist push src@nope "$R/x/y:1"
expect_code 2 "one operand is a usage error" hoist push src
expect_code 1 "a missing layout is refused" hoist push nowhere "$R/x/y:1"

# --- --index: the whole layout as one index -----------------------------------
rm -rf multi
da=$(mk_image multi amd64 amd64 200000)
db=$(mk_image multi arm64 arm64 200000)
expect_success "push --index" hoist push --index multi "$R/multi/idx:1"
idx=$(cut -d@ -f2 "$OUT")
expect_output "the index is what skopeo sees" "$idx" \
	sh -c "skopeo inspect --tls-verify=false --raw 'docker://$R/multi/idx:1' | sha256sum | sed 's/^/sha256:/; s/ .*//'"
expect_output "the index holds both images" "$da $db" \
	sh -c "skopeo inspect --tls-verify=false --raw 'docker://$R/multi/idx:1' | jq -r '[.manifests[].digest] | join(\" \")'"
expect_output "a child is pullable by digest" "$db" sk_digest "$R/multi/idx@$db"

# --- from the cache, with cross-repository mounts ----------------------------
expect_success "pull into the cache" hoist pull "$R/pushed/one:1"
before=$(blob_writes "$REGISTRY_LOG")
expect_output "push --from-cache" "$R/mounted/one@$want" \
	hoist push --from-cache "$R/pushed/one:1" "$R/mounted/one:1"
after=$(blob_writes "$REGISTRY_LOG")
n=$(grep -c '"POST /v2/mounted/one/blobs/uploads/?mount=sha256%3A[0-9a-f]*&from=pushed%2Fone ' "$REGISTRY_LOG")
((n == 3 && after == before)) && test_ok "every blob was mounted, none uploaded" ||
	test_not_ok "every blob was mounted, none uploaded" "$n mounts, $before -> $after writes"
expect_output "skopeo sees the mounted image" "$want" sk_digest "$R/mounted/one:1"
expect_code 1 "a reference not in the cache is refused" \
	hoist push --from-cache "$R/not/there:1" "$R/x/y:1"

# --- --image-refs -------------------------------------------------------------
expect_success "--image-refs" hoist push --image-refs refs.txt sk@ref "$R/refs/one:1"
expect_output "--image-refs writes the reference" "$R/refs/one@$want" cat refs.txt

# --- a docker-save tarball ------------------------------------------------------
skopeo --insecure-policy copy -q --src-tls-verify=false "docker://$R/orig/one:1" \
	"docker-archive:$PWD/one.tar:orig/one:1" || test_not_ok "skopeo writes a tarball"
expect_success "push of a docker-save tarball" hoist push one.tar "$R/tarball/one:1"
td=$(cut -d@ -f2 "$OUT")
expect_output "skopeo sees the pushed digest" "$td" sk_digest "$R/tarball/one:1"
expect_success "skopeo pulls the tarball's image" \
	skopeo --insecure-policy copy -q --src-tls-verify=false "docker://$R/tarball/one:1" oci:tb:b
expect_output "the layers are the tarball's" \
	"$(tar -xOf one.tar manifest.json | jq -r '.[0].Layers[]' | xargs -I{} sh -c 'tar -xOf one.tar {} | sha256sum' | sed 's/ .*//' | tr '\n' ' ')" \
	sh -c "skopeo inspect --tls-verify=false --raw 'docker://$R/tarball/one:1' | jq -r '.layers[].digest' | sed 's/^sha256://' | tr '\n' ' '"
expect_output "pushing the tarball again gives the same digest" "$R/tarball/two@$td" \
	hoist push one.tar "$R/tarball/two:1"
[[ -z $(ls tmp) ]] && test_ok "the scratch layout is removed" || test_not_ok "the scratch layout is removed" "$(ls tmp)"
# docker's own layout: Layers name "<id>/layer.tar", here symbolic links
mkdir ex && tar -C ex -xf one.tar
for l in ex/*/layer.tar; do
	t=$(readlink "$l") && jq --arg t "${t#../}" --arg l "${l#ex/}" \
		'.[0].Layers |= map(if . == $t then $l else . end)' ex/manifest.json >ex/m &&
		mv ex/m ex/manifest.json
done
tar -C ex -cf linked.tar .
grep -q layer.tar ex/manifest.json && test_ok "the tarball's layers are links" ||
	test_not_ok "the tarball's layers are links"
expect_output "a tarball whose layers are links" "$R/tarball/linked@$td" \
	hoist push linked.tar "$R/tarball/linked:1"
echo junk >junk.tar
expect_code 1 "a file that is not a tarball is refused" hoist push junk.tar "$R/tarball/junk:1"

# --- jobs: one at a time gives the same ---------------------------------------
d3=$(mk_image solo solo)
expect_output "push with --jobs 1" "$R/solo/one@$d3" hoist --jobs 1 push solo "$R/solo/one:1"
expect_output "push with --jobs 8" "$R/solo/two@$d3" hoist push --jobs 8 solo "$R/solo/two:1"

# --- an upload the registry fails once is retried ------------------------------
if fault_server_start --upstream "$R" --status-once 500 --status-match '^PUT /v2/.*/blobs/uploads/'; then
	d4=$(mk_image flaky flaky)
	expect_output "push through a PUT that fails once" "$FAULT/flaky/one@$d4" \
		hoist push flaky "$FAULT/flaky/one:1"
	grep -q 'status=500 action=status-once' "$FAULT_LOG" &&
		test_ok "the registry did fail one upload" ||
		test_not_ok "the registry did fail one upload" "$(cat "$FAULT_LOG")"
	expect_output "the pushed image is whole" "$d4" sk_digest "$R/flaky/one:1"
	expect_success "skopeo pulls it" \
		skopeo --insecure-policy copy -q --src-tls-verify=false "docker://$R/flaky/one:1" oci:flaky-back:b
	fault_server_stop
else
	test_not_ok "fault-server starts"
fi

# --- TLS + htpasswd, credentials from $DOCKER_CONFIG --------------------------
if registry_start --name sec --tls --htpasswd alice:s3cret; then
	mkdir -p certs/"$REGISTRY_sec"
	cp "$REGISTRY_CA_sec" certs/"$REGISTRY_sec"/ca.crt
	export HOIST_CERTS_DIR=$PWD/certs
	expect_code 1 "without credentials the push is refused" hoist push sk "$REGISTRY_sec/sec/one:1"
	printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$REGISTRY_sec" \
		"$(printf alice:s3cret | base64)" >"$DOCKER_CONFIG/config.json"
	expect_output "push over TLS with credentials" "$REGISTRY_sec/sec/one@$want" \
		hoist push sk "$REGISTRY_sec/sec/one:1"
	expect_output "skopeo sees it" "$want" skopeo inspect --cert-dir "$REGISTRY_CERTS_sec" \
		--creds alice:s3cret --format '{{.Digest}}' "docker://$REGISTRY_sec/sec/one:1"
	unset HOIST_CERTS_DIR
else
	test_not_ok "TLS registry starts"
fi

test_done
