#!/usr/bin/env bash
# t0810-append-mutate: `hoist append` and `hoist mutate` as crane's, against a
# real registry: gzip, zstd and plain tars appended (compressed files used
# unchanged, diff_ids right), base layers mounted not re-uploaded, the result
# unpacked by umoci, config changes seen by skopeo, layer digests kept,
# every image of an index mutated, docker-archive and oci: outputs,
# reproducible digests, and clear errors.
. "$(dirname "$0")/../lib.sh"
test_init

sk() { skopeo inspect --tls-verify=false "$@"; }

registry_start || { test_not_ok "registry starts"; test_done; }
R=$REGISTRY
seed_image library/base:1 || { test_not_ok "seed_image"; test_done; }
BASE_DIGEST=$SEED_DIGEST
BASE=$R/library/base:1

# --- layer files ------------------------------------------------------------
mkdir -p src/a/opt/gz src/b/opt/zst src/c/etc
echo "from gzip" >src/a/opt/gz/file
echo "from zstd" >src/b/opt/zst/file
echo "plain" >src/c/etc/plain.conf
tar --mtime=@0 --owner=0 --group=0 -C src/a -czf l1.tar.gz opt
tar --mtime=@0 --owner=0 --group=0 -C src/b -cf - opt | zstd -q -o l2.tar.zst
tar --mtime=@0 --owner=0 --group=0 -C src/c -cf l3.tar etc
sha() { sha256sum "$1" | cut -d' ' -f1; }

# --- append: three kinds of layers, base mounted ----------------------------
nbase=$(sk --raw "docker://$BASE" | jq '.layers | length')
before=$(blob_writes "$REGISTRY_LOG")
expect_success "append gzip, zstd and plain tars" hoist append -b "$BASE" -f l1.tar.gz \
	--new-layer l2.tar.zst --new_layer l3.tar -t "$R/apps/app:1"
pushed=$(cat "$OUT")
[[ $pushed == "$R/apps/app@sha256:"* ]] && test_ok "prints REPO@DIGEST" ||
	test_not_ok "prints REPO@DIGEST" "$pushed"
after=$(blob_writes "$REGISTRY_LOG")
nmount=$(grep -c '"POST /v2/apps/app/blobs/uploads/?mount=sha256%3A[0-9a-f]*&from=library%2Fbase ' \
	"$REGISTRY_LOG")
# writes: three layers and the config (POST + PATCH/PUT each)
((nmount >= nbase && after - before <= 12)) && test_ok "base layers mounted, not uploaded" ||
	test_not_ok "base layers mounted" "$nmount mounts (base has $nbase), $((after - before)) writes"
expect_output "skopeo sees the pushed digest" "${pushed#*@}" sk_digest "$R/apps/app:1"
expect_success "skopeo inspect --raw" sk --raw "docker://$R/apps/app:1"
cp "$OUT" man.json
expect_success "skopeo inspect --config" sk --config "docker://$R/apps/app:1"
cp "$OUT" cfg.json
jq -e --argjson n "$nbase" '.layers | length == $n + 3' man.json >/dev/null &&
	test_ok "manifest: base layers + 3" || test_not_ok "manifest: base layers + 3" "$(cat man.json)"
[[ $(jq -r '.layers[-3].digest' man.json) == "sha256:$(sha l1.tar.gz)" ]] &&
	test_ok "a gzip file is the blob unchanged" || test_not_ok "gzip blob unchanged"
[[ $(jq -r '.layers[-2].digest' man.json) == "sha256:$(sha l2.tar.zst)" ]] &&
	test_ok "a zstd file is the blob unchanged" || test_not_ok "zstd blob unchanged"
[[ $(jq -r '.rootfs.diff_ids[-3]' cfg.json) == "sha256:$(gzip -dc l1.tar.gz | sha256sum | cut -d' ' -f1)" &&
   $(jq -r '.rootfs.diff_ids[-2]' cfg.json) == "sha256:$(zstd -dcq l2.tar.zst | sha256sum | cut -d' ' -f1)" &&
   $(jq -r '.rootfs.diff_ids[-1]' cfg.json) == "sha256:$(sha l3.tar)" ]] &&
	test_ok "diff_ids: the decompressed streams, the plain tar as it is" ||
	test_not_ok "diff_ids" "$(jq -c .rootfs cfg.json)"
mt=$(jq -r '.mediaType' man.json)
if [[ $mt == application/vnd.docker.distribution.manifest.v2+json ]]; then
	want_gz=application/vnd.docker.image.rootfs.diff.tar.gzip
else
	want_gz=application/vnd.oci.image.layer.v1.tar+gzip
fi
[[ $(jq -r '.layers[-3].mediaType' man.json) == "$want_gz" &&
   $(jq -r '.layers[-1].mediaType' man.json) == "$want_gz" &&
   $(jq -r '.layers[-2].mediaType' man.json) == application/vnd.oci.image.layer.v1.tar+zstd ]] &&
	test_ok "layer media types follow the base ($mt)" ||
	test_not_ok "layer media types" "$(jq -c '[.layers[].mediaType]' man.json)"
jq -e '[.history[] | select(.created_by | startswith("hoist append"))] | length == 3' cfg.json \
	>/dev/null && test_ok "a history entry per layer" || test_not_ok "history" "$(jq -c .history cfg.json)"
jq -e '.annotations["org.opencontainers.image.base.name"] == null' man.json >/dev/null &&
	test_ok "no base annotations by default (as crane)" || test_not_ok "no base annotations"

# umoci 0.4 reads no zstd layers: it unpacks a gzip + plain append; the zstd
# layer's content is checked by decompressing the pushed blob
expect_success "append gzip and plain" hoist append -b "$BASE" -f l1.tar.gz -f l3.tar \
	-t "$R/apps/app:gz"
expect_success "skopeo copy to a layout" skopeo copy --src-tls-verify=false \
	"docker://$R/apps/app:gz" oci:sk:app
expect_success "umoci unpack" umoci unpack --rootless --image sk:app bundle
[[ $(cat bundle/rootfs/opt/gz/file) == "from gzip" && $(cat bundle/rootfs/etc/plain.conf) == plain &&
   -n $(find bundle/rootfs -mindepth 1 -maxdepth 1 ! -name opt ! -name etc) ]] &&
	test_ok "umoci sees the appended files over the base" ||
	test_not_ok "umoci sees the appended files" "$(find bundle/rootfs | head -20)"
curl -sf "http://$R/v2/apps/app/blobs/$(jq -r '.layers[-2].digest' man.json)" |
	zstd -dcq | tar -xOf - opt/zst/file >zst.txt
[[ $(cat zst.txt) == "from zstd" ]] && test_ok "the zstd layer holds its file" ||
	test_not_ok "the zstd layer holds its file" "$(cat zst.txt)"

# --- to another registry: base layers streamed registry to registry ---------
if registry_start --name two; then
	R2=$REGISTRY_two
	expect_success "append, pushing to another registry" hoist append -b "$BASE" -f l1.tar.gz \
		-t "$R2/other/app:1"
	o=$(cat "$OUT")
	expect_output "skopeo sees it there" "${o#*@}" sk_digest "$R2/other/app:1"
	expect_success "its blobs are all there (copy to a layout)" skopeo copy \
		--src-tls-verify=false "docker://$R2/other/app:1" oci:two:app
	expect_success "mutate across registries" hoist mutate "$R/apps/app:gz" -e X=2 \
		-t "$R2/other/mut:1"
	expect_success "skopeo inspect --config there" sk --config "docker://$R2/other/mut:1"
	jq -e '(.config.Env | index("X=2")) != null' "$OUT" >/dev/null && test_ok "the config there" ||
		test_not_ok "the config there" "$(cat "$OUT")"
else
	test_not_ok "a second registry starts"
fi

# --- reproducible -----------------------------------------------------------
expect_success "append again to another tag" hoist append -b "$BASE" -f l1.tar.gz \
	-f l2.tar.zst -f l3.tar -t "$R/apps/app:2"
[[ ${pushed#*@} == "$(cut -d@ -f2 "$OUT")" ]] && test_ok "reproducible: one digest" ||
	test_not_ok "reproducible" "$pushed vs $(cat "$OUT")"
expect_success "append -t REPO@DIGEST (the digest it will have)" hoist append -b "$BASE" \
	-f l1.tar.gz -f l2.tar.zst -f l3.tar -t "$R/apps/bydigest@${pushed#*@}"
[[ $(cat "$OUT") == "$R/apps/bydigest@${pushed#*@}" ]] && test_ok "pushed by that digest" ||
	test_not_ok "pushed by that digest" "$(cat "$OUT")"
expect_code 1 "append -t REPO@ANOTHER-DIGEST" hoist append -b "$BASE" -f l3.tar \
	-t "$R/apps/bydigest@${pushed#*@}"
expect_success "append with the base annotations" hoist append -b "$BASE" -f l3.tar \
	--set-base-image-annotations -t "$R/apps/app:annot"
expect_success "its manifest" sk --raw "docker://$R/apps/app:annot"
jq -e --arg d "$BASE_DIGEST" --arg n "$BASE" '.annotations["org.opencontainers.image.base.digest"] == $d and
	.annotations["org.opencontainers.image.base.name"] == $n' "$OUT" >/dev/null &&
	test_ok "--set-base-image-annotations" || test_not_ok "--set-base-image-annotations" "$(cat "$OUT")"

# --- no base: empty, Docker media types unless --oci-empty-base --------------
expect_success "append to the empty base" hoist append -f l3.tar -t "$R/apps/scratch:1"
expect_success "its manifest" sk --raw "docker://$R/apps/scratch:1"
jq -e '.mediaType == "application/vnd.docker.distribution.manifest.v2+json" and (.layers | length) == 1' \
	"$OUT" >/dev/null && test_ok "empty base: Docker media types" || test_not_ok "empty base" "$(cat "$OUT")"
expect_success "append to the OCI empty base" hoist append --oci-empty-base -f l3.tar \
	-t "$R/apps/scratch:oci"
expect_success "its manifest" sk --raw "docker://$R/apps/scratch:oci"
jq -e '.mediaType == "application/vnd.oci.image.manifest.v1+json" and
	.layers[0].mediaType == "application/vnd.oci.image.layer.v1.tar+gzip"' "$OUT" >/dev/null &&
	test_ok "--oci-empty-base: OCI media types" || test_not_ok "--oci-empty-base" "$(cat "$OUT")"

# --- -o: tarball and layout ----------------------------------------------------
expect_success "append -o a tarball" hoist append -b "$BASE" -f l1.tar.gz -t "$R/apps/t:1" -o app.tar
expect_success "skopeo inspect docker-archive:" skopeo inspect docker-archive:app.tar
jq -e --argjson n "$nbase" '.Layers | length == $n + 1' "$OUT" >/dev/null &&
	test_ok "the tarball has base + new layer" || test_not_ok "tarball layers" "$(cat "$OUT")"
expect_code 1 "nothing was pushed with -o" sk_digest "$R/apps/t:1"
expect_success "append -o oci:DIR" hoist append -b "$BASE" -f l1.tar.gz -o oci:lay
expect_success "umoci unpacks the layout" umoci unpack --rootless --image lay:latest bundle2
[[ -f bundle2/rootfs/opt/gz/file ]] && test_ok "oci: layout complete" || test_not_ok "oci: layout"

# --- mutate ----------------------------------------------------------------
expect_success "mutate the config" hoist mutate "$R/apps/app:1" --entrypoint '["/bin/app","-v"]' \
	--cmd a,b -e MODE=prod --env A=1 -l org.example.team=web -a org.example.note=hi -u 1000 \
	-w /srv --exposed-ports 8080,53/udp -t "$R/apps/app:mut"
mut=$(cat "$OUT")
[[ $mut == "$R/apps/app@sha256:"* ]] && test_ok "mutate prints REPO@DIGEST" ||
	test_not_ok "mutate prints REPO@DIGEST" "$mut"
expect_success "skopeo inspect --config" sk --config "docker://$R/apps/app:mut"
cp "$OUT" mcfg.json
jq -e '.config.Entrypoint == ["/bin/app","-v"] and .config.Cmd == ["a","b"] and
	(.config.Env | index("MODE=prod")) != null and (.config.Env | index("A=1")) != null and
	.config.Labels["org.example.team"] == "web" and .config.User == "1000" and
	.config.WorkingDir == "/srv" and (.config.ExposedPorts | has("8080/tcp") and has("53/udp"))' \
	mcfg.json >/dev/null && test_ok "skopeo sees the config changes" ||
	test_not_ok "config changes" "$(jq -c .config mcfg.json)"
expect_success "skopeo inspect --raw" sk --raw "docker://$R/apps/app:mut"
cp "$OUT" mman.json
[[ $(jq -c '[.layers[].digest]' mman.json) == "$(jq -c '[.layers[].digest]' man.json)" ]] &&
	test_ok "mutate keeps the layer digests" || test_not_ok "layer digests kept"
jq -e '.annotations["org.opencontainers.image.ref.name"] == null and
	.annotations["org.example.note"] == "hi"' mman.json >/dev/null &&
	test_ok "--annotation on the manifest" || test_not_ok "--annotation" "$(cat mman.json)"
expect_success "mutate --append, --set-platform, back to its own tag" \
	hoist mutate "$R/apps/app:2" --append l3.tar --set-platform linux/arm64/v8
[[ $(cat "$OUT") == "$R/apps/app@$(sk_digest "$R/apps/app:2")" ]] &&
	test_ok "without -t: pushed back to the image's tag" || test_not_ok "pushed back" "$(cat "$OUT")"
expect_success "its config" sk --config "docker://$R/apps/app:2"
jq -e '.architecture == "arm64" and .variant == "v8" and (.rootfs.diff_ids | length) >= 5' "$OUT" \
	>/dev/null && test_ok "--set-platform and --append" || test_not_ok "--set-platform" "$(cat "$OUT")"
expect_success "mutate by digest" hoist mutate "$R/apps/app@${pushed#*@}" -e X=1
[[ $(cat "$OUT") == "$R/apps/app@sha256:"* && $(cat "$OUT") != "$pushed" ]] &&
	test_ok "by digest: pushed by the new digest" || test_not_ok "by digest" "$(cat "$OUT")"
expect_success "mutate -o a tarball" hoist mutate "$R/apps/app:mut" -e B=2 -o mut.tar
expect_success "skopeo inspect docker-archive:" skopeo inspect --config docker-archive:mut.tar
jq -e '(.config.Env | index("B=2")) != null' "$OUT" >/dev/null && test_ok "the tarball's config" ||
	test_not_ok "tarball config" "$(cat "$OUT")"

# --- mutate an index -----------------------------------------------------------
mk_image multi a amd64 200000 >/dev/null && mk_image multi b arm64 200000 >/dev/null
expect_success "push an index" hoist push --index multi "$R/multi/idx:1"
expect_success "mutate the index" hoist mutate "$R/multi/idx:1" -e IDX=1 -a org.example.i=1 \
	-t "$R/multi/idx:2"
expect_success "the new index" sk --raw "docker://$R/multi/idx:2"
cp "$OUT" idx.json
jq -e '(.manifests | length) == 2 and .annotations["org.example.i"] == "1" and
	([.manifests[].platform.architecture] | sort) == ["amd64","arm64"]' idx.json >/dev/null &&
	test_ok "an index with both platforms" || test_not_ok "new index" "$(cat idx.json)"
ok=1
for a in amd64 arm64; do
	skopeo inspect --tls-verify=false --override-arch "$a" --config "docker://$R/multi/idx:2" \
		>c-$a.json 2>&1 || ok=0
	jq -e --arg a "$a" '.architecture == $a and (.config.Env | index("IDX=1")) != null' c-$a.json \
		>/dev/null || ok=0
done
((ok)) && test_ok "every child mutated" || test_not_ok "every child mutated" "$(cat c-*.json)"
expect_code 2 "--set-platform on an index" hoist mutate "$R/multi/idx:1" --set-platform linux/s390x
grep -q "is an index" "$ERR" && test_ok "a clear message" || test_not_ok "message" "$(cat "$ERR")"
expect_success "mutate --platform picks one child" hoist --platform linux/arm64 mutate \
	"$R/multi/idx:1" -e ONE=1 -t "$R/multi/one:1"
expect_success "it is an image" sk --raw "docker://$R/multi/one:1"
jq -e '.layers' "$OUT" >/dev/null && test_ok "--platform: one image" || test_not_ok "--platform"

# --- errors ----------------------------------------------------------------
expect_code 1 "missing layer file" hoist append -b "$BASE" -f nope.tar -t "$R/apps/x:1"
grep -q "nope.tar" "$ERR" && test_ok "names the missing file" || test_not_ok "names it" "$(cat "$ERR")"
echo "not a tar" >bad.tar
expect_code 1 "not a tar" hoist append -f bad.tar -t "$R/apps/x:1"
grep -q "not a tar" "$ERR" && test_ok "says it is not a tar" || test_not_ok "not a tar" "$(cat "$ERR")"
head -c 100 l1.tar.gz >cut.tar.gz
expect_code 1 "truncated gzip" hoist append -f cut.tar.gz -t "$R/apps/x:1"
expect_code 1 "nothing pushed after errors" sk_digest "$R/apps/x:1"
expect_code 2 "bad --env" hoist mutate "$R/apps/app:1" --env NOEQUALS
grep -q "KEY=VALUE" "$ERR" && test_ok "bad --env message" || test_not_ok "bad --env message" "$(cat "$ERR")"
expect_code 2 "bad --set-platform" hoist mutate "$R/apps/app:1" --set-platform nope
expect_code 2 "append without -f" hoist append -t "$R/apps/x:1"
expect_code 2 "append without -t or -o" hoist append -f l3.tar
expect_code 2 "mutate without an image" hoist mutate
expect_code 1 "missing image" hoist mutate "$R/apps/none:1" -e A=1

test_done
