#!/usr/bin/env bash
# t0300-registry-client: the registry client (registry/reg*.c) through reg-tool against
# real registries: open HTTP, TLS + htpasswd, and (when the fixtures exist)
# Bearer tokens and a misbehaving proxy.
. "$(dirname "$0")/../lib.sh"
test_init

RT=$TOOLS/reg-tool
if [[ ! -x $RT ]]; then
	test_not_ok "reg-tool is built" "$RT missing"
	test_done
fi
sha() { sha256sum "$1" | cut -d' ' -f1; }
# blob_path ROOT DIGEST: where distribution's filesystem driver keeps a blob
blob_path() {
	local hex=${2#sha256:}
	echo "$1/docker/registry/v2/blobs/sha256/${hex:0:2}/$hex/data"
}
# flip_byte FILE: changes one byte in the middle, keeping the length
flip_byte() {
	local f=$1 n off c
	n=$(stat -c %s "$f")
	off=$((n / 2))
	c=$(dd if="$f" bs=1 skip="$off" count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
	printf "$(printf '\\%03o' $(((c + 1) % 256)))" |
		dd of="$f" bs=1 seek="$off" count=1 conv=notrunc 2>/dev/null
}

# --- an open HTTP registry ----------------------------------------------------
registry_start || { test_not_ok "registry starts"; test_done; }
R=$REGISTRY
RDATA=$REGISTRY_DIR/data
seed_image library/hello:1 || { test_not_ok "seed_image"; test_done; }
seed=$SEED_DIGEST

expect_success "skopeo inspect of the seed" \
	skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$R/library/hello:1"
skopeo_digest=$(cat "$OUT")
expect_output "digest by tag equals skopeo's" "$skopeo_digest" "$RT" digest "$R/library/hello:1"
expect_output "digest by digest" "$seed" "$RT" digest "$R/library/hello@$seed"
expect_success "manifest by tag" "$RT" manifest "$R/library/hello:1"
cp "$OUT" manifest.json
expect_output "manifest bytes hash to the digest" "${seed#sha256:}" sha manifest.json
expect_output "HEAD gives media type, digest and size" \
	"application/vnd.oci.image.manifest.v1+json $seed $(stat -c %s manifest.json)" \
	"$RT" head "$R/library/hello:1"
expect_code 1 "a missing tag is refused" "$RT" digest "$R/library/hello:nope"
grep -q "manifest unknown" "$ERR" && test_ok "missing tag: says manifest unknown" ||
	test_not_ok "missing tag: says manifest unknown" "$(cat "$ERR")"

layer=$(jq -r '.layers[0].digest' manifest.json)
config=$(jq -r '.config.digest' manifest.json)
expect_success "blob fetch" "$RT" blob "$R/library/hello@$layer"
cp "$OUT" layer.bin
expect_output "the blob hashes to its digest" "${layer#sha256:}" sha layer.bin
expect_output "blob HEAD gives the size" "$(stat -c %s layer.bin)" \
	"$RT" blob-head "$R/library/hello@$layer"
expect_code 1 "a blob whose size is not the descriptor's is refused" \
	"$RT" --size 3 blob "$R/library/hello@$layer"
grep -q -- 'more than the 3 bytes the descriptor announces' "$ERR" && test_ok "a blob whose size is not the descriptor's is refused: the message says why" ||
	test_not_ok "a blob whose size is not the descriptor's is refused: the message says why" "$(cat "$ERR")"

# tags, with pagination: 25 more tags, listed 10 a page
for i in $(seq -w 1 25); do
	"$RT" put-manifest "$R/library/hello:t$i" manifest.json \
		application/vnd.oci.image.manifest.v1+json >/dev/null || break
done
expect_success "tags list, 10 a page" "$RT" -v --page-size 10 tags "$R/library/hello"
{ echo 1; for i in $(seq -w 1 25); do echo "t$i"; done; } | sort >tags.want
sort "$OUT" >tags.got
compare "every tag listed once" tags.want tags.got
# (distribution 2.8 ignores n= for tags; the catalog below pages for real)
grep -q '^> GET /v2/library/hello/tags/list?n=10 ' "$ERR" && test_ok "tags list sends n=" ||
	test_not_ok "tags list sends n=" "$(grep '^> GET' "$ERR")"
expect_output "tags list in one page" 26 sh -c "'$RT' tags '$R/library/hello' | wc -l"

# pushes
head -c 3000000 /dev/urandom >big.bin
head -c 1000 /dev/urandom >small.bin
: >empty.bin
expect_output "push-blob (streamed PATCH)" "sha256:$(sha big.bin)" "$RT" push-blob "$R/up/one" big.bin
expect_output "push-blob (monolithic)" "sha256:$(sha small.bin)" "$RT" push-blob "$R/up/one" small.bin
expect_output "push-blob (empty)" "sha256:$(sha empty.bin)" "$RT" push-blob "$R/up/one" empty.bin
expect_output "push-blob (chunked PATCHes)" "sha256:$(sha big.bin)" \
	"$RT" -v --chunk 700000 push-blob "$R/up/chunked" big.bin
n=$(grep -c '^> PATCH /v2/up/chunked/blobs/uploads/' "$ERR")
((n == 5)) && test_ok "chunked upload used 5 PATCHes" || test_not_ok "chunked upload used 5 PATCHes" "got $n"
expect_output "pushed blob HEAD" 3000000 "$RT" blob-head "$R/up/chunked@sha256:$(sha big.bin)"
expect_success "pushed blob reads back" "$RT" blob "$R/up/one@sha256:$(sha big.bin)"
compare "pushed blob round trip" big.bin "$OUT"
expect_success "pushing an existing blob" "$RT" -v push-blob "$R/up/one" big.bin
grep -q '^> POST' "$ERR" && test_not_ok "an existing blob is not uploaded again" ||
	test_ok "an existing blob is not uploaded again"
expect_success "push-blob with a mount" "$RT" -v push-blob "$R/up/mounted" big.bin up/one
# mounted: one POST ?mount=&from= answered 201, no PATCH, no PUT
if grep -q '^> POST /v2/up/mounted/blobs/uploads/?mount=sha256%3A.*&from=up%2Fone' "$ERR" &&
	grep -q '^< HTTP/1.1 201' "$ERR" && ! grep -qE '^> (PATCH|PUT)' "$ERR"; then
	test_ok "the blob was mounted (201, no upload)"
else
	test_not_ok "the blob was mounted (201, no upload)" "$(grep -E '^[<>] [A-Z]' "$ERR")"
fi

echo '{"schemaVersion":2}' >bad.json
expect_code 1 "put-manifest refuses bytes that do not match the digest" \
	"$RT" put-manifest "$R/up/one@sha256:$(sha bad.json | tr 0-9a-f 1-9a-f0)" bad.json \
	application/vnd.oci.image.manifest.v1+json
grep -q -- 'hashes to sha256:' "$ERR" && test_ok "put-manifest refuses bytes that do not match the digest: the message says why" ||
	test_not_ok "put-manifest refuses bytes that do not match the digest: the message says why" "$(cat "$ERR")"

# copies: same registry (mount), then another registry (upload)
expect_success "copy within the registry" "$RT" -v copy "$R/library/hello:1" "$R/copies/hello:c1"
grep -q "^> POST /v2/copies/hello/blobs/uploads/?mount=$(printf %s "$layer" | sed 's/:/%3A/')" "$ERR" &&
	! grep -qE '^> (PATCH|PUT) /v2/copies/hello/blobs' "$ERR" &&
	test_ok "the copy mounted the blobs" ||
	test_not_ok "the copy mounted the blobs" "$(grep -E '^[<>] [A-Z]' "$ERR")"
expect_output "skopeo sees the copy" "$seed" \
	skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$R/copies/hello:c1"
expect_success "catalog" "$RT" catalog "$R"
grep -qx library/hello "$OUT" && grep -qx copies/hello "$OUT" && test_ok "catalog lists the repositories" ||
	test_not_ok "catalog lists the repositories" "$(cat "$OUT")"
cp "$OUT" catalog.all
expect_output "catalog, 2 a page" "$(cat catalog.all)" "$RT" -v --page-size 2 catalog "$R"
want=$(( ($(wc -l <catalog.all) + 1) / 2 ))
pages=$(grep -c '^> GET /v2/_catalog' "$ERR")
((pages >= want)) && test_ok "catalog came in $pages pages, following Link" ||
	test_not_ok "catalog came in several pages" "requests: $pages, want >= $want"

# content the registry serves that does not match: tampered storage
seed_image --content "tampered manifest" tamper/m:1 && tm=$SEED_DIGEST
seed_image --content "tampered layer" tamper/b:1 && tb=$SEED_DIGEST
"$RT" manifest "$R/tamper/b:1" >tb.json
tbl=$(jq -r '.layers[0].digest' tb.json)
sed -i 's/tar+gzip/tar+zstd/' "$(blob_path "$RDATA" "$tm")"
flip_byte "$(blob_path "$RDATA" "$tbl")"
expect_code 1 "a manifest fetched by digest that does not hash to it is refused" \
	"$RT" manifest "$R/tamper/m@$tm"
grep -q "does not match its digest" "$ERR" && test_ok "it says the digest does not match" ||
	test_not_ok "it says the digest does not match" "$(cat "$ERR")"
expect_code 1 "a manifest by tag whose Docker-Content-Digest differs is refused" \
	"$RT" manifest "$R/tamper/m:1"
grep -q -- 'does not match its digest' "$ERR" && test_ok "a manifest by tag whose Docker-Content-Digest differs is refused: the message says why" ||
	test_not_ok "a manifest by tag whose Docker-Content-Digest differs is refused: the message says why" "$(cat "$ERR")"
expect_code 1 "a corrupted blob is refused" "$RT" blob "$R/tamper/b@$tbl"
grep -q "does not match its digest" "$ERR" && test_ok "blob: says the digest does not match" ||
	test_not_ok "blob: says the digest does not match" "$(cat "$ERR")"

registry_start --name two || test_not_ok "second registry starts"
R2=$REGISTRY_two
expect_success "copy to another registry" "$RT" copy "$R/library/hello:1" "$R2/moved/hello:m1"
expect_output "skopeo sees the copy there" "$seed" \
	skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://$R2/moved/hello:m1"
expect_success "skopeo can pull the copy" skopeo --insecure-policy copy --src-tls-verify=false \
	"docker://$R2/moved/hello:m1" "oci:$TEST_DIR/pulled:m1"

# delete
expect_success "delete by digest" "$RT" delete "$R/copies/hello@$seed"
expect_code 1 "deleted manifest is gone" "$RT" digest "$R/copies/hello@$seed"
grep -q -- 'manifest unknown' "$ERR" && test_ok "deleted manifest is gone: the message says why" ||
	test_not_ok "deleted manifest is gone: the message says why" "$(cat "$ERR")"

# referrers: distribution 2.8 has no referrers API -> the tag fallback -> empty
expect_output "referrers of an image with none" '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}' \
	"$RT" referrers "$R/library/hello@$seed"

# --- TLS + htpasswd --------------------------------------------------------------
registry_start --tls --htpasswd alice:s3cret --name sec || test_not_ok "TLS registry starts"
S=$REGISTRY_sec
mkdir -p "certs.d/$S" && cp "$REGISTRY_CA_sec" "certs.d/$S/ca.crt"
seed_image --name sec private/app:v1 && sec_seed=$SEED_DIGEST
expect_code 1 "anonymous access is refused" "$RT" --ca-dir certs.d digest "$S/private/app:v1"
grep -q "hoist auth login $S" "$ERR" && test_ok "anonymous: tells to log in" ||
	test_not_ok "anonymous: tells to log in" "$(cat "$ERR")"
expect_output "with credentials" "$sec_seed" \
	"$RT" --ca-dir certs.d --user alice --pass s3cret digest "$S/private/app:v1"
expect_output "tags with credentials" v1 \
	"$RT" --ca-dir certs.d --user alice --pass s3cret tags "$S/private/app"
expect_code 1 "a wrong password is refused" \
	"$RT" --ca-dir certs.d --user alice --pass wrong digest "$S/private/app:v1"
grep -q "refused the credentials" "$ERR" && test_ok "wrong password: says the credentials were refused" ||
	test_not_ok "wrong password: says the credentials were refused" "$(cat "$ERR")"
grep -q wrong "$ERR" && test_not_ok "the password is not in the message" || test_ok "the password is not in the message"
expect_code 1 "an untrusted certificate is refused" \
	"$RT" --user alice --pass s3cret digest "$S/private/app:v1"
grep -qi "certif" "$ERR" && grep -q "ca.crt" "$ERR" && test_ok "untrusted: the error names the certificate and the fix" ||
	test_not_ok "untrusted: the error names the certificate and the fix" "$(cat "$ERR")"
expect_output "--insecure skips verification" "$sec_seed" \
	"$RT" --insecure --user alice --pass s3cret digest "$S/private/app:v1"
expect_success "copy into the TLS registry with credentials" \
	"$RT" --ca-dir certs.d --user alice --pass s3cret copy "$S/private/app:v1" "$S/private/copy:v2"
expect_success "skopeo sees it" skopeo inspect --cert-dir "$REGISTRY_CERTS_sec" --creds alice:s3cret \
	"docker://$S/private/copy:v2"
expect_success "the trace redacts credentials" \
	"$RT" -v --ca-dir certs.d --user alice --pass s3cret digest "$S/private/app:v1"
if grep -qi '^> authorization: <redacted>' "$ERR" && ! grep -q "$(printf alice:s3cret | base64)" "$ERR"; then
	test_ok "the trace shows no credentials"
else
	test_not_ok "the trace shows no credentials" "$(grep -i authorization "$ERR" | head -3)"
fi

# --- Bearer tokens (tests/fixtures/token-server) -------------------------------
if declare -F token_server_start >/dev/null && declare -F registry_start_token >/dev/null &&
	token_server_start --user bob:hunter2 >/dev/null 2>&1 &&
	registry_start_token --name tok >/dev/null 2>&1; then
	T=$REGISTRY_tok
	if seed_image --name tok team/app:v1; then
		tok_seed=$SEED_DIGEST
		expect_output "bearer: digest with credentials" "$tok_seed" \
			"$RT" --user bob --pass hunter2 digest "$T/team/app:v1"
		expect_code 1 "bearer: anonymous is refused" "$RT" digest "$T/team/app:v1"
		grep -q "hoist auth login" "$ERR" && test_ok "bearer anonymous: tells to log in" ||
			test_not_ok "bearer anonymous: tells to log in" "$(cat "$ERR")"
		expect_code 1 "bearer: wrong password is refused" \
			"$RT" --user bob --pass nope digest "$T/team/app:v1"
		grep -q -- 'refused the credentials' "$ERR" && test_ok "bearer: wrong password is refused: the message says why" ||
			test_not_ok "bearer: wrong password is refused: the message says why" "$(cat "$ERR")"
		expect_success "bearer: copy with a cross-repository mount" \
			"$RT" -v --user bob --pass hunter2 copy "$T/team/app:v1" "$T/team/other:v1"
		grep -q '^> POST /v2/team/other/blobs/uploads/?mount=' "$ERR" &&
			! grep -qE '^> (PATCH|PUT) /v2/team/other/blobs' "$ERR" &&
			test_ok "bearer: the blobs were mounted" ||
			test_not_ok "bearer: the blobs were mounted" "$(grep -E '^[<>] [A-Z]' "$ERR")"
		expect_output "bearer: the copy is there" "$tok_seed" \
			"$RT" --user bob --pass hunter2 digest "$T/team/other:v1"
		grep -q 'hunter2' "$TOKEN_LOG" "$REGISTRY_LOG_tok" && test_not_ok "bearer: no password in the logs" ||
			test_ok "bearer: no password in the logs"
		expect_success "bearer: catalog" "$RT" --user bob --pass hunter2 catalog "$T"
		# an identity token (OAuth2 refresh token) is exchanged by POST
		rt=$(curl -sf -d grant_type=password -d username=bob -d password=hunter2 \
			-d access_type=offline -d service="$TOKEN_SERVICE" -d client_id=test \
			"$TOKEN_REALM" | jq -r .refresh_token)
		expect_output "bearer: an identity token works" "$tok_seed" \
			"$RT" -v --identity-token "$rt" digest "$T/team/app:v1"
		grep -q '^> POST /token' "$ERR" && test_ok "bearer: the identity token went by POST" ||
			test_not_ok "bearer: the identity token went by POST" "$(grep '^> ' "$ERR")"
		expect_code 1 "bearer: an unknown identity token is refused" \
			"$RT" --identity-token not-a-token digest "$T/team/app:v1"
		grep -q -- 'refused the credentials' "$ERR" && test_ok "bearer: an unknown identity token is refused: the message says why" ||
			test_not_ok "bearer: an unknown identity token is refused: the message says why" "$(cat "$ERR")"
		# blob storage on another host: the redirect target gets no credentials
		tlayer=$("$RT" --user bob --pass hunter2 manifest "$T/team/app:v1" | jq -r '.layers[0].digest')
		if declare -F fault_server_start >/dev/null && alt_loopback_ok &&
			fault_server_start --name store --addr "$ALT_LOOPBACK" \
				--blob-dir "$REGISTRY_DIR_tok/data" >/dev/null 2>&1 &&
			fault_server_start --name front --upstream "$T" \
				--redirect-blobs-to "$FAULT_URL_store" >/dev/null 2>&1; then
			expect_success "bearer: a blob redirected to storage" \
				"$RT" --user bob --pass hunter2 blob "$FAULT_front/team/app@$tlayer"
			expect_output "bearer: the redirected blob is right" "${tlayer#sha256:}" sha "$OUT"
			if grep -q 'auth=no' "$FAULT_LOG_store" && ! grep -q 'auth=yes' "$FAULT_LOG_store" &&
				grep -q 'GET /v2/team/app/blobs/.*auth=yes' "$FAULT_LOG_front"; then
				test_ok "bearer: no credentials went to blob storage"
			else
				test_not_ok "bearer: no credentials went to blob storage" \
					"$(cat "$FAULT_LOG_store" "$FAULT_LOG_front")"
			fi
		else
			test_skip "bearer: blob redirect to another host" "no fault-server or no $ALT_LOOPBACK"
		fi
	else
		test_not_ok "bearer: seed_image"
	fi
else
	test_skip "bearer tests" "the token-server fixture is not available"
fi

# --- a proxy that drops the connection mid-blob (tests/fixtures/fault-server) ---
if declare -F fault_server_start >/dev/null &&
	fault_server_start --upstream "$R" --drop-mid-blob 1000000 >/dev/null 2>&1; then
	expect_success "a dropped blob download resumes" "$RT" blob "$FAULT/up/one@sha256:$(sha big.bin)"
	compare "the resumed blob is whole" big.bin "$OUT"
	grep -q 'range=bytes=1000000-' "$FAULT_LOG" && test_ok "it resumed with a Range request" ||
		test_not_ok "it resumed with a Range request" "$(tail -5 "$FAULT_LOG")"
	fault_server_stop
	if fault_server_start --upstream "$R" --status-once 503:1 \
		--status-match '^GET /v2/library/hello/manifests/' >/dev/null 2>&1; then
		expect_output "a 503 with Retry-After is retried" "$seed" "$RT" digest "$FAULT/library/hello:1"
		grep -q 'status=503' "$FAULT_LOG" && test_ok "the 503 was seen" ||
			test_not_ok "the 503 was seen" "$(cat "$FAULT_LOG")"
	fi
else
	test_skip "resume and retry tests" "the fault-server fixture is not available"
fi

test_done
