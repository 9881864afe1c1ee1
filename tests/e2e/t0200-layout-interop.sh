#!/usr/bin/env bash
# t0200-layout-interop: layouts written by the store (through layout-tool) are
# read by skopeo and umoci, validate against the OCI schemas, keep one
# index.json entry per ref, and layouts made by skopeo and umoci open as well.
. "$(dirname "$0")/../lib.sh"
test_init

LT=$TOOLS/layout-tool
VALIDATE="/usr/bin/python3 $TOP/tests/schema-validate.py"
A=docker.io/library/golang:1.20
B=example.com/team/app:v2
ROOTLESS=
(($(id -u) == 0)) || ROOTLESS=--rootless

expect_success "write image A (3 layers)" "$LT" write-image lay "$A" --layers 3 --seed 1
DA=$(cat "$OUT")
expect_success "write image B sharing layer 0 with A" \
	"$LT" write-image lay "$B" --layers 2 --seed 2 --share-from 1
DB=$(cat "$OUT")
[[ $DA == sha256:* && $DB == sha256:* && $DA != "$DB" ]] &&
	test_ok "two distinct manifest digests" ||
	test_not_ok "two distinct manifest digests" "A=$DA B=$DB"

inspect() { skopeo inspect "oci:lay:$1" | jq -r "$2"; }
expect_output "skopeo inspect finds A by its full ref" "$DA" inspect "$A" .Digest
expect_output "skopeo inspect finds B by its full ref" "$DB" inspect "$B" .Digest
expect_output "A is linux/amd64" "linux/amd64" inspect "$A" '.Os + "/" + .Architecture'
expect_output "A has 3 layers" "3" inspect "$A" '.Layers | length'
LA0=$(inspect "$A" '.Layers[0]')
expect_output "B's first layer is A's (shared blob)" "$LA0" inspect "$B" '.Layers[0]'
expect_output "the shared layer is stored once" "1" \
	sh -c "ls lay/blobs/sha256 | grep -c '^${LA0#sha256:}\$'"
expect_success "skopeo copies A out of the layout (verifying every blob)" \
	skopeo copy "oci:lay:$A" "oci:copy:$A"

expect_success "umoci stat A" umoci stat --image "lay:$A"
grep -q "layout-tool layer 2 seed 1" "$OUT" && test_ok "umoci stat shows A's history" ||
	test_not_ok "umoci stat shows A's history" "$(cat "$OUT")"
expect_success "umoci unpack A" umoci unpack $ROOTLESS --image "lay:$A" bundle-a
expect_output "A's first layer file unpacked" "hello from seed 1 layer 0" \
	cat bundle-a/rootfs/hoist-layer-1-0/hello.txt
expect_output "A's gzip layer unpacked" "hello from seed 1 layer 1" \
	cat bundle-a/rootfs/hoist-layer-1-1/hello.txt
expect_success "umoci unpack B" umoci unpack $ROOTLESS --image "lay:$B" bundle-b
expect_output "B has A's shared layer and its own" "hoist-layer-1-0 hoist-layer-2-1" \
	sh -c 'cd bundle-b/rootfs && echo hoist-layer-*'

count_ref() { jq --arg r "$2" '[.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $r)] | length' "$1/index.json"; }
expect_output "writing A again gives the same digest" "$DA" \
	"$LT" write-image lay "$A" --layers 3 --seed 1
expect_output "A is listed once" "1" count_ref lay "$A"
expect_output "index.json holds two entries" "2" jq '.manifests | length' lay/index.json
expect_success "moving A to another image" "$LT" write-image lay "$A" --layers 1 --seed 3
DA2=$(cat "$OUT")
expect_output "A is still listed once" "1" count_ref lay "$A"
expect_output "A names the new image" "$DA2" "$LT" find lay "$A"
expect_output "skopeo sees the new A" "$DA2" inspect "$A" .Digest
expect_output "B kept its place and digest" "$DB" jq -r '.manifests[1].digest' lay/index.json
expect_output "no temporary files left" "" \
	sh -c 'ls -A lay/.hoist/ingest; ls -A lay/.hoist | grep tmp; true'
expect_output "blobs/sha256 holds only digest names" "" \
	sh -c "ls -A lay/blobs/sha256 | grep -v '^[0-9a-f]\{64\}\$'; true"

# schemas: index.json, oci-layout, every manifest and config it reaches
expect_success "index.json validates" $VALIDATE index lay/index.json
expect_success "oci-layout validates" $VALIDATE layout lay/oci-layout
manifests=() configs=()
for d in $(jq -r '.manifests[].digest' lay/index.json); do
	m=lay/blobs/sha256/${d#sha256:}
	manifests+=("$m")
	configs+=("lay/blobs/sha256/$(jq -r '.config.digest' "$m" | cut -d: -f2)")
done
expect_success "manifests validate (${#manifests[@]})" $VALIDATE manifest "${manifests[@]}"
expect_success "configs validate (${#configs[@]})" $VALIDATE config "${configs[@]}"
expect_success "skopeo's copy validates" $VALIDATE index copy/index.json

# layouts made by the other tools open and take entries (skopeo compresses
# the plain tar layers as it copies, so its manifest digest differs)
DC=$(skopeo inspect "oci:copy:$A" | jq -r .Digest)
expect_output "skopeo-made layout: find" "$DC" "$LT" find copy "$A"
expect_success "skopeo-made layout: add B" "$LT" write-image copy "$B" --layers 2 --seed 2 \
	--share-from 1
expect_output "skopeo-made layout: both listed" "$A $DC
$B $DB" "$LT" ls copy
expect_success "umoci init" umoci init --layout umo
expect_success "umoci-made layout: add A" "$LT" write-image umo "$A" --layers 3 --seed 1
expect_success "umoci reads it back" umoci stat --image "umo:$A"
expect_success "umoci tags it" umoci tag --image "umo:$A" short
expect_output "our entry and umoci's coexist" "$A $DA
short $DA" "$LT" ls umo
expect_success "remove a ref" "$LT" rm umo "$A"
expect_output "umoci's entry kept" "short $DA" "$LT" ls umo
expect_code 1 "removing it again fails" "$LT" rm umo "$A"
expect_code 1 "a directory that is not a layout is refused" "$LT" find bundle-a "$A"

test_done
