#!/usr/bin/env bash
# t0400-pull: `hoist pull` against a real docker-registry: OCI and Docker
# media types, a multi-platform index (whole and --platform), shared layers,
# re-pulls, skopeo/umoci reading the result, tarballs, a corrupt blob, a
# dropped connection, SIGKILL mid-pull, and the cache contract (requests
# counted in a pass-through fault-server's log).
. "$(dirname "$0")/../lib.sh"
test_init

RT=$TOOLS/reg-tool
registry_start || { test_not_ok "registry starts"; test_done; }
R=$REGISTRY
seed_image library/hello:1 || { test_not_ok "seed_image"; test_done; }
D1=$SEED_DIGEST
L1=$SEED_LAYOUT

# blobs DIR: the blob names of a layout, sorted
blobs() { (cd "$1/blobs/sha256" 2>/dev/null && ls | sort); }
entries() { jq -r '.manifests[] | "\(.annotations["org.opencontainers.image.ref.name"]) \(.digest)"' "$1/index.json" | sort; }
reqs() { wc -l <"$1" | tr -d ' '; }

# --- OCI image into a layout ----------------------------------------------------
expect_output "pull into a new layout prints repository@digest" "$R/library/hello@$D1" \
	hoist pull "$R/library/hello:1" out
expect_output "index.json: one entry, fully-qualified name" "$R/library/hello:1 $D1" entries out
expect_output "skopeo inspect oci: finds it by name" "$D1" \
	skopeo inspect --format '{{.Digest}}' "oci:out:$R/library/hello:1"
expect_output "digest equals the registry's" \
	"$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$R/library/hello:1")" \
	skopeo inspect --format '{{.Digest}}' "oci:out:$R/library/hello:1"
compare "blobs are the seed's" <(blobs "$L1") <(blobs out)
expect_success "umoci unpack accepts it" \
	umoci unpack --rootless --image "out:$R/library/hello:1" bundle
grep -q "hello from hoist" bundle/rootfs/hello.txt 2>/dev/null && test_ok "unpacked file is there" ||
	test_not_ok "unpacked file is there"
# the sources of the blobs are recorded
src=$(cat "out/.hoist/sources/sha256/$(jq -r '.layers[0].digest' "out/blobs/sha256/${D1#sha256:}" | cut -d: -f2)" 2>/dev/null)
[[ $src == "$R/library/hello" ]] && test_ok "blob source recorded" || test_not_ok "blob source recorded" "got '$src'"

# --- re-pull: same tag, then a moved tag --------------------------------------
expect_success "re-pull of the same tag" hoist -v pull "$R/library/hello:1" out
grep -q "^exists: " "$ERR" && test_ok "re-pull: -v says exists" || test_not_ok "re-pull: -v says exists" "$(cat "$ERR")"
expect_output "re-pull: still one entry" "$R/library/hello:1 $D1" entries out
seed_image --content "second version" library/hello:1 || test_not_ok "seed v2"
D2=$SEED_DIGEST
expect_success "pull of a moved tag" hoist pull "$R/library/hello:1" out
expect_output "the entry is replaced, not duplicated" "$R/library/hello:1 $D2" entries out
expect_output "skopeo sees the new digest" "$D2" skopeo inspect --format '{{.Digest}}' "oci:out:$R/library/hello:1"

# --- Docker media types ------------------------------------------------------------
skopeo --insecure-policy copy --quiet --dest-tls-verify=false --format v2s2 \
	"oci:$L1:seed" "docker://$R/docker/hello:v2s2" >/dev/null 2>&1 ||
	test_not_ok "seed a Docker v2s2 image"
DD=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$R/docker/hello:v2s2")
expect_output "Docker schema2 image pulls" "$R/docker/hello@$DD" hoist pull "$R/docker/hello:v2s2" dk
expect_output "index.json keeps the Docker media type" \
	"application/vnd.docker.distribution.manifest.v2+json" \
	jq -r '.manifests[0].mediaType' dk/index.json
# (skopeo's oci: transport only looks at entries of OCI media types, so check
# by hand: every blob the manifest names is there and hashes to its name)
ok=1
for d in "$DD" $(jq -r '.config.digest, .layers[].digest' "dk/blobs/sha256/${DD#sha256:}"); do
	[[ $(sha256sum "dk/blobs/sha256/${d#sha256:}" 2>/dev/null | cut -d' ' -f1) == "${d#sha256:}" ]] || ok=0
done
((ok)) && test_ok "the Docker image is complete and verified" ||
	test_not_ok "the Docker image is complete and verified"

# --- a multi-platform index ---------------------------------------------------------
seed_image --content "amd64 content" multi/app:amd64 && DA=$SEED_DIGEST && LA=$SEED_LAYOUT
seed_image --content "arm64 content" multi/app:arm64 && DB=$SEED_DIGEST
SA=$(stat -c %s "$LA/blobs/sha256/${DA#sha256:}")
SB=$(stat -c %s "$SEED_LAYOUT/blobs/sha256/${DB#sha256:}")
jq -cn --arg a "$DA" --argjson sa "$SA" --arg b "$DB" --argjson sb "$SB" '{
	schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
	manifests: [
	  {mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $a, size: $sa,
	   platform: {architecture: "amd64", os: "linux"}},
	  {mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $b, size: $sb,
	   platform: {architecture: "arm64", os: "linux", variant: "v8"}}]}' | tr -d '\n' >index.json
"$RT" put-manifest "$R/multi/app:all" index.json application/vnd.oci.image.index.v1+json >/dev/null ||
	test_not_ok "push the index"
DI=sha256:$(sha256sum index.json | cut -d' ' -f1)
expect_output "an index pulls whole" "$R/multi/app@$DI" hoist pull "$R/multi/app:all" multi
expect_output "the entry is the index" "application/vnd.oci.image.index.v1+json $DI" \
	jq -r '.manifests[0] | "\(.mediaType) \(.digest)"' multi/index.json
n=$(blobs multi | wc -l)
((n == 7)) && test_ok "whole index: index + 2 manifests + 2 configs + 2 layers" ||
	test_not_ok "whole index: index + 2 manifests + 2 configs + 2 layers" "got $n blobs"
expect_success "skopeo copies every platform out of the layout" \
	skopeo --insecure-policy copy --quiet --all "oci:multi:$R/multi/app:all" "oci:multi-copy:x"
expect_output "--platform linux/arm64 stores the picked image" "$R/multi/app@$DB" \
	hoist --platform linux/arm64 pull "$R/multi/app:all" plat
expect_output "its entry is the arm64 manifest" "$R/multi/app:all $DB" entries plat
n=$(blobs plat | wc -l)
((n == 3)) && test_ok "--platform: only that image's blobs" || test_not_ok "--platform: only that image's blobs" "got $n"

# --- two repositories sharing a layer --------------------------------------------
seed_image --content "shared" shared/one:1
seed_image --content "shared" shared/two:1
expect_success "two repositories into one layout" \
	hoist -v pull "$R/shared/one:1" "$R/shared/two:1" shared
n=$(blobs shared | wc -l)
((n == 3)) && test_ok "shared blobs stored once" || test_not_ok "shared blobs stored once" "got $n"
n=$(jq '.manifests | length' shared/index.json)
((n == 2)) && test_ok "two entries" || test_not_ok "two entries" "got $n"

# --- tarball ------------------------------------------------------------------------
expect_success "--format tarball" hoist pull --format tarball "$R/library/hello:1" "$R/docker/hello:v2s2" img.tar
tar -tf img.tar >tar.list 2>/dev/null
grep -qx manifest.json tar.list && grep -qx repositories tar.list && test_ok "tarball has manifest.json and repositories" ||
	test_not_ok "tarball has manifest.json and repositories" "$(cat tar.list)"
expect_output "manifest.json lists two images" 2 sh -c 'tar -xOf img.tar manifest.json | jq length'
expect_success "skopeo inspect docker-archive: (first image)" \
	skopeo inspect "docker-archive:img.tar:$R/library/hello:1"
expect_success "skopeo inspect docker-archive: (second image)" \
	skopeo inspect "docker-archive:img.tar:$R/docker/hello:v2s2"
expect_success "skopeo copies the tarball's image to a layout" \
	skopeo --insecure-policy copy --quiet "docker-archive:img.tar:$R/docker/hello:v2s2" "oci:fromtar:x"
if command -v podman >/dev/null; then
	expect_success "podman load accepts the tarball" podman load -i img.tar
fi
expect_code 2 "--format tarball needs a PATH" hoist pull --format tarball "$R/library/hello:1"
expect_code 2 "unknown --format" hoist pull --format zip "$R/library/hello:1" x
expect_code 2 "unknown --pull" hoist pull --pull sometimes "$R/library/hello:1" x

# --- the cache contract (requests counted by a pass-through proxy) --------------
fault_server_start --upstream "$R" || test_not_ok "fault-server starts"
F=$FAULT
seed_image --content "contract" contract/img:1 && DC=$SEED_DIGEST
expect_success "pull by digest into the cache" hoist pull "$F/contract/img@$DC"
before=$(reqs "$FAULT_LOG")
expect_success "the same digest again" hoist -v pull "$F/contract/img@$DC"
after=$(reqs "$FAULT_LOG")
((after == before)) && test_ok "cached digest: zero requests" ||
	test_not_ok "cached digest: zero requests" "$(tail -n $((after - before)) "$FAULT_LOG")"
grep -q "^cache hit: $F/contract/img@$DC" "$ERR" && test_ok "-v says cache hit" || test_not_ok "-v says cache hit" "$(cat "$ERR")"
expect_success "pull by tag into the cache" hoist pull "$F/contract/img:1"
before=$(reqs "$FAULT_LOG")
expect_success "the same tag again" hoist pull "$F/contract/img:1"
after=$(reqs "$FAULT_LOG")
((after - before <= 2)) && ! tail -n $((after - before)) "$FAULT_LOG" | grep -q '/blobs/' &&
	test_ok "cached tag: at most 2 requests, no blob" ||
	test_not_ok "cached tag: at most 2 requests, no blob" "$(tail -n $((after - before)) "$FAULT_LOG")"
cache=$XDG_CACHE_HOME/hoist
expect_output "the cache holds the image under its name" "$F/contract/img:1 $DC" \
	sh -c "jq -r '.manifests[] | \"\(.annotations[\"org.opencontainers.image.ref.name\"]) \(.digest)\"' '$cache/index.json' | grep contract/img:1"
before=$(reqs "$FAULT_LOG")
expect_success "--offline pull of a cached tag into a layout" hoist --offline pull "$F/contract/img:1" off
expect_output "--offline: the layout has it" "$F/contract/img:1 $DC" entries off
expect_success "--pull never works as --offline" hoist pull --pull never "$F/contract/img:1" off2
after=$(reqs "$FAULT_LOG")
((after == before)) && test_ok "--offline and --pull never: no requests" ||
	test_not_ok "--offline and --pull never: no requests" "$(tail -n $((after - before)) "$FAULT_LOG")"
expect_code 1 "--offline without the image in the cache" hoist --offline pull "$F/contract/img:nope" off
grep -q "offline" "$ERR" && test_ok "--offline failure says why" || test_not_ok "--offline failure says why" "$(cat "$ERR")"
expect_success "--pull always re-resolves" hoist -v pull --pull always "$F/contract/img:1" off
fault_server_stop

# --- a corrupt blob is refused, the layout left as it was --------------------------
fault_server_start --upstream "$R" --corrupt-blob || test_not_ok "corrupting fault-server starts"
cp -a out corrupt
blobs corrupt >corrupt.before
cp corrupt/index.json corrupt.index.before
seed_image --content "corrupt me" bad/img:1
expect_code 1 "a corrupt blob is refused" \
	hoist --cache "$TEST_DIR/cache-corrupt" pull "$FAULT/bad/img:1" corrupt
grep -qi "digest\|corrupt" "$ERR" && test_ok "the error names the digest mismatch" ||
	test_not_ok "the error names the digest mismatch" "$(cat "$ERR")"
compare "no blob was added" corrupt.before <(blobs corrupt)
compare "index.json is unchanged" corrupt.index.before corrupt/index.json
expect_success "skopeo still reads the layout" skopeo inspect "oci:corrupt:$R/library/hello:1"
fault_server_stop

# --- a bigger image: dropped connection, SIGKILL ------------------------------------
umoci init --layout big >/dev/null 2>&1 && umoci new --image big:b >/dev/null 2>&1
mkdir -p rootfs/data && head -c 48M /dev/urandom >rootfs/data/blob.bin
umoci insert --image big:b rootfs/data /data >/dev/null 2>&1 || test_not_ok "build the big image"
rm -rf rootfs
skopeo --insecure-policy copy --quiet --dest-tls-verify=false "oci:big:b" "docker://$R/big/img:1" >/dev/null ||
	test_not_ok "push the big image"
DBIG=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$R/big/img:1")

fault_server_start --upstream "$R" --drop-mid-blob 1000000 || test_not_ok "dropping fault-server starts"
expect_output "a dropped blob download resumes" "$FAULT/big/img@$DBIG" \
	hoist --cache "$TEST_DIR/cache-drop" pull "$FAULT/big/img:1" drop
grep -q "drop@" "$FAULT_LOG" && grep -q "range=bytes=1000000-" "$FAULT_LOG" &&
	test_ok "resumed with Range after the drop" || test_not_ok "resumed with Range after the drop" "$(cat "$FAULT_LOG")"
expect_success "skopeo reads the resumed image" skopeo inspect "oci:drop:$FAULT/big/img:1"
fault_server_stop

# SIGKILL in the middle of the layer download (through the Python proxy, which
# is slow enough to catch it in flight)
fault_server_start --upstream "$R" || test_not_ok "fault-server starts"
cp -a out killed
"$HOIST" --cache "$TEST_DIR/cache-kill" pull "$FAULT/big/img:1" killed >/dev/null 2>&1 &
pid=$!
for ((i = 0; i < 500; i++)); do
	sz=$(find killed/.hoist/ingest -type f -size +1M 2>/dev/null | head -n 1)
	[[ -n $sz ]] && break
	sleep 0.01
done
kill -KILL "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
if [[ -n $sz ]]; then
	test_ok "the pull was killed mid-download"
else
	test_not_ok "the pull was killed mid-download" "no partial file seen"
fi
jq -e . killed/index.json >/dev/null && test_ok "index.json is intact after SIGKILL" ||
	test_not_ok "index.json is intact after SIGKILL"
expect_success "skopeo still reads the killed layout" skopeo inspect "oci:killed:$R/library/hello:1"
grep -q "big/img" killed/index.json && test_not_ok "no entry for the killed pull" ||
	test_ok "no entry for the killed pull"
expect_output "the next pull completes it" "$FAULT/big/img@$DBIG" \
	hoist --cache "$TEST_DIR/cache-kill" pull "$FAULT/big/img:1" killed
expect_output "skopeo reads the completed image" "$DBIG" \
	skopeo inspect --format '{{.Digest}}' "oci:killed:$FAULT/big/img:1"
fault_server_stop

# --- the destination is not the cache: layers come from the cache ------------------
expect_success "pull the big image into the cache" hoist pull "$R/big/img:1"
expect_success "then into a layout" hoist -v pull "$R/big/img:1" fromcache
grep -q "^from the cache: " "$ERR" && ! grep -q "^pulling " "$ERR" &&
	test_ok "layers copied from the cache, none downloaded" ||
	test_not_ok "layers copied from the cache, none downloaded" "$(cat "$ERR")"
expect_output "the copy is complete" "$DBIG" skopeo inspect --format '{{.Digest}}' "oci:fromcache:$R/big/img:1"

# --- Bearer tokens: one token, then the blobs in parallel ---------------------------
if token_server_start --user bob:hunter2 >/dev/null 2>&1 &&
	registry_start_token --name tok >/dev/null 2>&1 && seed_image --name tok team/app:v1; then
	T=$REGISTRY_tok
	TD=$SEED_DIGEST
	printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$T" "$(printf bob:hunter2 | base64)" \
		>"$DOCKER_CONFIG/config.json"
	expect_output "pull with Bearer tokens" "$T/team/app@$TD" \
		hoist --cache "$TEST_DIR/cache-tok" pull "$T/team/app:v1" tok
	expect_output "skopeo reads it" "$TD" skopeo inspect --format '{{.Digest}}' "oci:tok:$T/team/app:v1"
	rm -f "$DOCKER_CONFIG/config.json"
	expect_code 1 "without credentials the pull is refused" \
		hoist --cache "$TEST_DIR/cache-tok2" pull "$T/team/app:v1" tok2
	grep -q -- 'hoist auth login' "$ERR" && test_ok "without credentials the pull is refused: the message says why" ||
		test_not_ok "without credentials the pull is refused: the message says why" "$(cat "$ERR")"
else
	test_not_ok "token server and registry start"
fi

test_done
