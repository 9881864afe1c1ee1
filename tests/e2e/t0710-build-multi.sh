#!/usr/bin/env bash
# t0710-build-multi: multi-platform `hoist build` (--platform A,B: one image
# per platform over the matching children of the base, an index pushed) and
# COPY --from of an image and of an earlier stage, against a real registry,
# checked with skopeo, umoci and hoist export; reproducible digests; an
# offline rebuild from the cache with the registry stopped.
. "$(dirname "$0")/../lib.sh"
test_init

sk() { skopeo inspect --tls-verify=false "$@"; }
# tarfile TAR PATH: the contents of one file of a tar
tarfile() { tar -xOf "$1" "$2" 2>/dev/null; }

registry_start || { test_not_ok "registry starts"; test_done; }
R=$REGISTRY

# --- a two-platform base, from flags: ${TARGETARCH} in --add ---------------
mkdir -p b && echo amd64-base >b/amd64.txt && echo arm64-base >b/arm64.txt && echo common >b/common
base_build() {
	hoist build --platform linux/amd64,linux/arm64 --add 'b/${TARGETARCH}.txt:/etc/base-arch' \
		--add b/common:/usr/share/common/ --env BASE=1 -t "$R/lib/base:multi"
}
expect_success "two-platform build from flags" base_build
BASE_REF=$(cat "$OUT")
BASE_DIGEST=${BASE_REF#*@}
expect_success "skopeo inspect --raw of the base" sk --raw "docker://$R/lib/base:multi"
jq -e '.mediaType == "application/vnd.oci.image.index.v1+json" and (.manifests | length) == 2 and
	.manifests[0].platform == {architecture: "amd64", os: "linux"} and
	.manifests[1].platform.architecture == "arm64" and .manifests[1].platform.os == "linux"' \
	"$OUT" >/dev/null && test_ok "an OCI index with amd64 and arm64" ||
	test_not_ok "an OCI index with amd64 and arm64" "$(cat "$OUT")"
expect_success "skopeo: the arm64 config" sk --override-arch arm64 --override-variant v8 \
	--config "docker://$R/lib/base:multi"
jq -e '.architecture == "arm64" and .os == "linux"' "$OUT" >/dev/null &&
	test_ok "the empty base got the platform in its config" ||
	test_not_ok "the empty base got the platform in its config" "$(cat "$OUT")"
# (hoist export --platform of the tag would record the tag as that child in the cache)
export_arm() { hoist export --platform linux/arm64 "$R/lib/base@$BASE_DIGEST" base-arm.tar; }
expect_success "base arm64 exported" export_arm
[[ $(tarfile base-arm.tar etc/base-arch) == arm64-base && $(tarfile base-arm.tar usr/share/common/common) == common ]] &&
	test_ok "--add expanded \${TARGETARCH} per platform" ||
	test_not_ok "--add expanded \${TARGETARCH}" "$(tar -tf base-arm.tar)"
expect_success "same build again" base_build
[[ $(cat "$OUT") == "$BASE_REF" ]] && test_ok "the index is reproducible" ||
	test_not_ok "the index is reproducible" "$(cat "$OUT") != $BASE_REF"

# --- an image to COPY --from ------------------------------------------------
mkdir -p src/data/sub && echo one >src/data/one && echo two >src/data/sub/two && echo tool >src/tool
expect_success "a source image" hoist build --add src/data:/data --add src/tool:/usr/bin/tool \
	-t "$R/lib/src:1"

# --- a Containerfile over the two-platform base ----------------------------
mkdir -p ctx/bin/amd64 ctx/bin/arm64 ctx/tools
echo amd64-app >ctx/bin/amd64/app
echo arm64-app >ctx/bin/arm64/app
echo hello >ctx/tools/hello
cat >ctx/Containerfile <<EOF
FROM --platform=\$BUILDPLATFORM $R/lib/base:multi AS tools
COPY tools/ /opt/tools/

FROM $R/lib/base@$BASE_DIGEST
ARG TARGETARCH
ARG TARGETPLATFORM
LABEL target=\$TARGETPLATFORM
COPY bin/\${TARGETARCH}/app /app
COPY --from=tools /opt/tools/hello /etc/base-arch /from-stage/
COPY --from=$R/lib/src:1 --chown=7:8 /data /copied/
COPY --from=0 /opt/tools /tools-dir
ENTRYPOINT ["/app"]
EOF
multi_build() { hoist build --platform linux/amd64 --platform linux/arm64 -f ctx/Containerfile ctx -t "$R/app:1"; }
expect_success "two-platform Containerfile build, pushed" multi_build
APP_REF=$(cat "$OUT")
APP_DIGEST=${APP_REF#*@}
expect_success "skopeo inspect --raw" sk --raw "docker://$R/app:1"
cp "$OUT" app-index.json
jq -e '.mediaType == "application/vnd.oci.image.index.v1+json" and (.manifests | length) == 2 and
	([.manifests[].platform.architecture] == ["amd64", "arm64"])' app-index.json >/dev/null &&
	test_ok "the pushed tag is an index of amd64 and arm64" ||
	test_not_ok "the pushed tag is an index" "$(cat app-index.json)"
expect_success "skopeo inspect --override-arch arm64" sk --override-arch arm64 --override-variant v8 \
	"docker://$R/app:1"
jq -e '.Architecture == "arm64" and .Labels.target == "linux/arm64/v8"' "$OUT" >/dev/null &&
	test_ok "the arm64 child's config" || test_not_ok "the arm64 child's config" "$(cat "$OUT")"
expect_success "skopeo inspect --override-arch amd64" sk --override-arch amd64 "docker://$R/app:1"
jq -e '.Architecture == "amd64" and .Labels.target == "linux/amd64"' "$OUT" >/dev/null &&
	test_ok "the amd64 child's config" || test_not_ok "the amd64 child's config" "$(cat "$OUT")"

for arch in amd64 arm64; do
	expect_success "umoci unpack of the $arch child" sh -c \
		"skopeo copy -q --src-tls-verify=false --override-arch $arch --override-variant v8 \
		 docker://$R/app:1 oci:lay-$arch:x && umoci unpack --image lay-$arch:x bundle-$arch"
	rf=bundle-$arch/rootfs
	[[ $(cat $rf/app) == "$arch-app" && $(cat $rf/etc/base-arch) == "$arch-base" ]] &&
		test_ok "$arch: TARGETARCH source and the $arch base" ||
		test_not_ok "$arch: TARGETARCH source and base" "$(cat $rf/app $rf/etc/base-arch)"
	# the stage is FROM --platform=$BUILDPLATFORM: its base is the host's (amd64 here)
	[[ $(cat $rf/from-stage/hello) == hello && $(cat $rf/from-stage/base-arch) == amd64-base &&
	   $(cat $rf/tools-dir/hello) == hello ]] &&
		test_ok "$arch: COPY --from a stage (by name and number)" ||
		test_not_ok "$arch: COPY --from a stage" "$(cd $rf && find . | sort)"
	[[ $(cat $rf/copied/one) == one && $(cat $rf/copied/sub/two) == two &&
	   $(stat -c '%u:%g' $rf/copied/sub/two) == 7:8 && ! -e $rf/copied/data ]] &&
		test_ok "$arch: COPY --from an image, a directory's contents, --chown" ||
		test_not_ok "$arch: COPY --from an image" "$(cd $rf && find copied -printf '%p %u:%g\n')"
done

expect_success "same build again, -v" hoist -v build --platform linux/amd64 --platform linux/arm64 \
	-f ctx/Containerfile ctx -t "$R/app:1"
# two COPY --from read stage 0 ("tools" and "0"): built once per platform
[[ $(grep -c "stage 0: built (" "$ERR") == 2 && $(grep -c "stage 0: built already" "$ERR") == 2 ]] &&
	test_ok "a stage two steps copy from is built once" ||
	test_not_ok "stage built once" "$(grep "stage" "$ERR")"

[[ $(cat "$OUT") == "$APP_REF" ]] && test_ok "reproducible: the same index digest" ||
	test_not_ok "reproducible: the same index digest" "$(cat "$OUT") != $APP_REF"
expect_success "into a layout" hoist build --platform linux/amd64,linux/arm64 -f ctx/Containerfile ctx \
	--output oci:multi
[[ $(cat "$OUT") == "$APP_DIGEST" ]] && test_ok "the layout gets the index pushed" ||
	test_not_ok "the layout gets the index pushed" "$(cat "$OUT") != $APP_DIGEST"
expect_success "skopeo inspect --raw of the layout" sk --raw oci:multi:latest
jq -e '(.manifests | length) == 2' "$OUT" >/dev/null && test_ok "the layout holds the index" ||
	test_not_ok "the layout holds the index" "$(cat "$OUT")"
expect_success "hoist validate of the layout" hoist validate --layout multi
expect_code 2 "a tarball of two platforms is refused" hoist build --platform linux/amd64,linux/arm64 \
	--add b/common:/c --output tarball:x.tar
grep -q "one image" "$ERR" && test_ok "the tarball error says why" || test_not_ok "the tarball error" "$(cat "$ERR")"

# --- one platform: a plain image, as before --------------------------------
expect_success "one --platform gives an image" hoist build --platform linux/arm64 \
	-f ctx/Containerfile ctx --output oci:one
expect_success "skopeo inspect --raw of it" sk --raw oci:one:latest
jq -e '.mediaType == "application/vnd.oci.image.manifest.v1+json"' "$OUT" >/dev/null &&
	test_ok "a single platform stays an image" || test_not_ok "a single platform stays an image" "$(cat "$OUT")"

# --- FROM an earlier stage ------------------------------------------------
cat >ctx/Stages <<EOF
FROM $R/lib/src:1 AS first
COPY tools/hello /first/
FROM first
COPY --from=first /data/one /second/
EOF
expect_success "FROM an earlier stage" hoist build -f ctx/Stages ctx --output oci:stages
expect_success "umoci unpack of it" umoci unpack --image stages:latest stb
[[ $(cat stb/rootfs/first/hello) == hello && $(cat stb/rootfs/second/one) == one &&
   $(cat stb/rootfs/data/one) == one ]] &&
	test_ok "the stage's base and layers, then its own" ||
	test_not_ok "FROM an earlier stage" "$(cd stb/rootfs && find . | sort)"

# --- errors ---------------------------------------------------------------
expect_code 1 "a single-image base of another platform" hoist build --platform linux/arm64 \
	--base "$R/lib/src:1" --add b/common:/c --output oci:bad
grep -q "one image for linux/amd64, not for linux/arm64" "$ERR" &&
	test_ok "the platform error names both" || test_not_ok "the platform error" "$(cat "$ERR")"
printf 'FROM scratch\nCOPY --from=%s /nope /x\n' "$R/lib/src:1" >ctx/Missing
expect_code 1 "COPY --from a missing path" hoist build -f ctx/Missing ctx --output oci:bad
grep -q "'/nope' not found" "$ERR" && test_ok "the missing path is named" ||
	test_not_ok "the missing path is named" "$(cat "$ERR")"
printf 'FROM scratch\nCOPY --from=5 /x /x\n' >ctx/BadStage
expect_code 1 "COPY --from a later stage number" hoist build -f ctx/BadStage ctx --output oci:bad
grep -q -- 'is not an earlier stage' "$ERR" && test_ok "COPY --from a later stage number: the message says why" ||
	test_not_ok "COPY --from a later stage number: the message says why" "$(cat "$ERR")"

# --- offline from the cache, registry stopped ------------------------------
expect_success "into the cache" hoist build --platform linux/amd64,linux/arm64 -f ctx/Containerfile ctx \
	--output cache
registry_stop
off_build() { hoist --offline build --platform linux/amd64,linux/arm64 -f ctx/Containerfile ctx --output oci:off; }
expect_success "offline build, registry stopped" off_build
[[ $(cat "$OUT") == "$APP_DIGEST" ]] && test_ok "offline: the same index digest" ||
	test_not_ok "offline: the same index digest" "$(cat "$OUT") != $APP_DIGEST"
test_done
