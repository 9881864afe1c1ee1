#!/usr/bin/env bash
# t0110-fixtures: the test fixtures themselves, checked with curl and skopeo -
# the token server (Bearer auth for a real registry in `auth: token:` mode)
# and the fault server (pass-through, 429/503 once, a connection dropped
# mid-blob, a corrupted blob, blob redirects to a second loopback host).
. "$(dirname "$0")/../lib.sh"
test_init

# jwt_part TOKEN N: prints part N (0 header, 1 claims) of a JWT, decoded.
jwt_part() {
	local p
	p=$(cut -d. -f$(($2 + 1)) <<<"$1" | tr '_-' '/+')
	while ((${#p} % 4)); do p+='='; done
	base64 -d <<<"$p"
}

# get_token CURL_ARGS... : GET $TOKEN_REALM, prints .token
get_token() {
	curl -sf "$@" | jq -r '.token // empty'
}

# --- token server + a token-auth registry -------------------------------------
expect_success "token_server_start" token_server_start --user alice:s3cret --reader bob:r3ad
if [[ $TOKEN_REALM == http://127.0.0.1:*/token && -s $TOKEN_CERT && $TOKEN_USER == alice ]]; then
	test_ok "token server variables are set"
else
	test_not_ok "token server variables are set" "REALM=$TOKEN_REALM CERT=$TOKEN_CERT USER=$TOKEN_USER"
fi
expect_success "registry_start_token" registry_start_token
tokreg=$REGISTRY

expect_output "the registry challenges with the token realm" \
	"Bearer realm=\"$TOKEN_REALM\",service=\"$TOKEN_SERVICE\"" \
	sh -c "curl -s -D - -o /dev/null 'http://$tokreg/v2/' | sed -n 's/^Www-Authenticate: //ip' | tr -d '\r'"
expect_output "anonymous token request is refused" 401 \
	curl -s -o /dev/null -w '%{http_code}' "$TOKEN_REALM?service=$TOKEN_SERVICE&scope=repository:fx/app:pull"
expect_output "a wrong password is refused" 401 \
	curl -s -o /dev/null -w '%{http_code}' -u alice:nope "$TOKEN_REALM?service=$TOKEN_SERVICE&scope=repository:fx/app:pull"

expect_success "seed_image pushes through the token flow (skopeo --dest-creds)" seed_image fx/app:1
expect_success "skopeo inspect --creds reads it back" \
	skopeo inspect --tls-verify=false --creds alice:s3cret "docker://$tokreg/fx/app:1"
expect_output "the digest is the seeded one" "$SEED_DIGEST" jq -r .Digest "$OUT"
expect_failure "skopeo inspect without credentials fails" \
	skopeo inspect --tls-verify=false "docker://$tokreg/fx/app:1"

tok=$(get_token -u alice:s3cret "$TOKEN_REALM?service=$TOKEN_SERVICE&scope=repository:fx/app:pull,push&account=alice")
hdr=$(jwt_part "$tok" 0)
claims=$(jwt_part "$tok" 1)
if [[ $(jq -r '.alg + " " + .typ + " " + (.x5c | length | tostring)' <<<"$hdr") == "ES256 JWT 1" ]]; then
	test_ok "JWT header: ES256, x5c"
else
	test_not_ok "JWT header: ES256, x5c" "$hdr"
fi
expect_output "JWT claims: iss, sub, aud, access" \
	"$TOKEN_ISSUER alice $TOKEN_SERVICE repository fx/app pull,push" \
	jq -r '[.iss, .sub, .aud, .access[0].type, .access[0].name, (.access[0].actions | join(","))] | join(" ")' <<<"$claims"
expect_output "curl with the Bearer token lists the tags" 1 \
	sh -c "curl -sf -H 'Authorization: Bearer $tok' 'http://$tokreg/v2/fx/app/tags/list' | jq -r '.tags[]'"
expect_output "the token is refused for another repository" 401 \
	curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok" "http://$tokreg/v2/fx/other/tags/list"

# A reader gets pull only, whatever it asks for.
tok=$(get_token -u bob:r3ad "$TOKEN_REALM?service=$TOKEN_SERVICE&scope=repository:fx/app:pull,push")
expect_output "a reader is granted pull only" pull \
	jq -r '.access[0].actions | join(",")' <<<"$(jwt_part "$tok" 1)"
expect_success "a reader can pull with skopeo" \
	skopeo inspect --tls-verify=false --creds bob:r3ad "docker://$tokreg/fx/app:1"
expect_failure "a reader cannot push with skopeo" \
	skopeo --insecure-policy copy --dest-tls-verify=false --dest-creds bob:r3ad \
	"oci:$SEED_LAYOUT:seed" "docker://$tokreg/fx/bob:1"

# OAuth2 POST: password grant with access_type=offline, then refresh_token grant.
expect_success "POST grant_type=password with access_type=offline" \
	curl -sf -d grant_type=password -d username=alice -d password=s3cret -d access_type=offline \
	-d client_id=hoist-tests -d service="$TOKEN_SERVICE" -d scope=repository:fx/app:pull "$TOKEN_REALM"
rt=$(jq -r '.refresh_token // empty' "$OUT")
if [[ -n $rt && -n $(jq -r '.access_token // empty' "$OUT") && $(jq -r .expires_in "$OUT") == 300 ]]; then
	test_ok "the answer has access_token, expires_in and a refresh_token"
else
	test_not_ok "the answer has access_token, expires_in and a refresh_token" "$(cat "$OUT")"
fi
expect_success "POST grant_type=refresh_token" \
	curl -sf -d grant_type=refresh_token -d refresh_token="$rt" -d client_id=hoist-tests \
	-d service="$TOKEN_SERVICE" --data-urlencode "scope=repository:fx/app:pull registry:catalog:*" "$TOKEN_REALM"
tok=$(jq -r .access_token "$OUT")
expect_output "the refreshed token reads the catalog" fx/app \
	sh -c "curl -sf -H 'Authorization: Bearer $tok' 'http://$tokreg/v2/_catalog' | jq -r '.repositories[]'"
expect_output "an unknown refresh token is refused" 401 \
	curl -s -o /dev/null -w '%{http_code}' -d grant_type=refresh_token -d refresh_token=bogus "$TOKEN_REALM"
expect_output "GET with offline_token=true returns a refresh token" yes \
	sh -c "curl -sf -u alice:s3cret '$TOKEN_REALM?service=$TOKEN_SERVICE&scope=repository:fx/app:pull&offline_token=true&client_id=hoist-tests' |
		jq -r 'if (.refresh_token | startswith(\"rt-\")) then \"yes\" else \"no\" end'"
expect_success "GET with the refresh token as Bearer (docker's fallback)" \
	curl -sf -H "Authorization: Bearer $rt" "$TOKEN_REALM?service=$TOKEN_SERVICE&scope=repository:fx/app:pull"

if grep -q '^GET /token q=.*scope=repository:fx/app:pull,push.* auth=basic who=alice status=200' "$TOKEN_LOG" &&
	grep -q '^POST /token q=grant_type=password&username=alice&password=REDACTED' "$TOKEN_LOG" &&
	grep -q 'auth=none who=anonymous status=401' "$TOKEN_LOG"; then
	test_ok "the token server logs each request"
else
	test_not_ok "the token server logs each request" "$(tail -n 5 "$TOKEN_LOG")"
fi
if grep -qe s3cret -e r3ad -e "$rt" "$TOKEN_LOG"; then
	test_not_ok "no secret in the token server's log"
else
	test_ok "no secret in the token server's log"
fi

# The fault server in front of a token-auth registry passes the flow through.
expect_success "fault_server_start in front of the token registry" \
	fault_server_start --name tokfront --upstream "$tokreg"
expect_success "skopeo inspect --creds through the fault server" \
	skopeo inspect --tls-verify=false --creds alice:s3cret "docker://$FAULT_tokfront/fx/app:1"
fault_server_stop tokfront
registry_stop

# RSA keys and anonymous pull.
expect_success "token_server_start --key-type rsa --anonymous-pull" \
	token_server_start --key-type rsa --anonymous-pull --user carol:pw
expect_success "a registry trusting the RSA token server" registry_start_token --name rsa
expect_success "seed_image as carol" seed_image --name rsa fx/pub:1
tok=$(get_token "$TOKEN_REALM?service=$TOKEN_SERVICE&scope=repository:fx/pub:pull,push")
expect_output "anonymous gets pull only, RS256" "RS256 pull" \
	jq -rs '.[0].alg + " " + (.[1].access[0].actions | join(","))' <<<"$(jwt_part "$tok" 0) $(jwt_part "$tok" 1)"
expect_success "anonymous skopeo inspect works with --anonymous-pull" \
	skopeo inspect --tls-verify=false "docker://$REGISTRY_rsa/fx/pub:1"
expect_failure "anonymous push is refused" \
	skopeo --insecure-policy copy --dest-tls-verify=false \
	"oci:$SEED_LAYOUT:seed" "docker://$REGISTRY_rsa/fx/anon:1"
registry_stop rsa
token_server_stop

# --- fault server ------------------------------------------------------------
expect_success "an open registry" registry_start --name open
big=$(/usr/bin/python3 -c 'import hashlib; print("".join(hashlib.sha256(b"%d" % i).hexdigest() for i in range(2000)))')
expect_success "seed a ~60 KB image" seed_image --name open --content "$big" fx/big:1
manifest=$SEED_LAYOUT/blobs/sha256/${SEED_DIGEST#sha256:}
layer=$(jq -r '.layers[0].digest' "$manifest")
lsize=$(jq -r '.layers[0].size' "$manifest")
blobpath=/v2/fx/big/blobs/$layer

expect_success "fault_server_start (pass-through)" fault_server_start --upstream "$REGISTRY_open"
expect_output "skopeo inspect through the fault server" "$SEED_DIGEST" \
	sh -c "skopeo inspect --tls-verify=false 'docker://$FAULT/fx/big:1' | jq -r .Digest"
expect_success "skopeo copy pulls through the fault server" \
	skopeo --insecure-policy copy --src-tls-verify=false "docker://$FAULT/fx/big:1" oci:pulled:x
expect_success "skopeo copy pushes through the fault server" \
	skopeo --insecure-policy copy --dest-tls-verify=false "oci:pulled:x" "docker://$FAULT/fx/pushed:1"
expect_output "the pushed image is in the registry" "$SEED_DIGEST" \
	sh -c "skopeo inspect --tls-verify=false 'docker://$REGISTRY_open/fx/pushed:1' | jq -r .Digest"
if grep -q "^GET $blobpath range=- auth=no host=$FAULT status=200 action=proxy" "$FAULT_LOG" &&
	grep -q "^PUT /v2/fx/pushed/manifests/1 .*status=201" "$FAULT_LOG"; then
	test_ok "the fault server logs method, path, range, auth"
else
	test_not_ok "the fault server logs method, path, range, auth" "$(tail -n 5 "$FAULT_LOG")"
fi

# 429 once, with Retry-After; curl --retry gets through.
expect_success "fault server: 429:1 once on manifests" \
	fault_server_start --name busy --upstream "$REGISTRY_open" --status-once 429:1 --status-match '/manifests/'
expect_output "a /v2/ ping is not matched" 200 curl -s -o /dev/null -w '%{http_code}' "$FAULT_URL_busy/v2/"
t0=$SECONDS
expect_output "curl --retry gets 429, waits, then 200" "$SEED_DIGEST" \
	sh -c "curl -sf --retry 3 -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
		'$FAULT_URL_busy/v2/fx/big/manifests/1' | sha256sum | sed 's/^/sha256:/; s/ .*//'"
if ((SECONDS - t0 >= 1)); then
	test_ok "curl waited for Retry-After: 1"
else
	test_not_ok "curl waited for Retry-After: 1" "$((SECONDS - t0)) s"
fi
if [[ $(grep -c '/manifests/1 .*status=429 action=status-once' "$FAULT_LOG_busy") == 1 &&
	$(grep -c '/manifests/1 .*status=200 action=proxy' "$FAULT_LOG_busy") == 1 ]]; then
	test_ok "one 429, then the request passed"
else
	test_not_ok "one 429, then the request passed" "$(cat "$FAULT_LOG_busy")"
fi
# 503 without Retry-After, then 503 with an HTTP-date, then through.
expect_success "fault server: 503 twice" \
	fault_server_start --name down --upstream "$REGISTRY_open" --status-once 503 --status-once 503:d2
expect_output "first 503 has no Retry-After" "503 " \
	curl -s -o /dev/null -w '%{http_code} %header{retry-after}' "$FAULT_URL_down/v2/"
expect_success "second 503 has an HTTP-date Retry-After" \
	curl -s -o err.json -D headers.txt "$FAULT_URL_down/v2/"
if grep -qE '^HTTP/1.1 503' headers.txt && grep -qiE '^Retry-After: [A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} ' headers.txt &&
	[[ $(jq -r '.errors[0].code' err.json) == UNAVAILABLE ]]; then
	test_ok "503 with a registry error body"
else
	test_not_ok "503 with a registry error body" "$(cat headers.txt err.json)"
fi
expect_output "then requests pass" 200 curl -s -o /dev/null -w '%{http_code}' "$FAULT_URL_down/v2/"

# A connection dropped mid-blob, then a Range resume.
expect_success "fault server: drop mid-blob after 1000 bytes" \
	fault_server_start --name drop --upstream "$REGISTRY_open" --drop-mid-blob 1000
expect_code 18 "curl sees a partial transfer" curl -s -o part.blob "$FAULT_URL_drop$blobpath"
expect_output "1000 bytes arrived" 1000 stat -c %s part.blob
expect_success "curl -C - resumes with Range" curl -sf -C - -o part.blob "$FAULT_URL_drop$blobpath"
expect_output "the resumed blob has the right digest" "${layer#sha256:}" \
	sh -c "sha256sum part.blob | cut -d' ' -f1"
if grep -q "^GET $blobpath range=bytes=1000- .*status=206 action=proxy\$" "$FAULT_LOG_drop" &&
	grep -q "^GET $blobpath range=- .*status=200 action=proxy+drop@1000" "$FAULT_LOG_drop"; then
	test_ok "the log shows the drop and the Range request"
else
	test_not_ok "the log shows the drop and the Range request" "$(cat "$FAULT_LOG_drop")"
fi

# A corrupted blob.
expect_success "fault server: corrupt blobs" \
	fault_server_start --name bad --upstream "$REGISTRY_open" --corrupt-blob
expect_success "curl fetches a corrupted blob" curl -sf -o bad.blob "$FAULT_URL_bad$blobpath"
if [[ $(stat -c %s bad.blob) == "$lsize" && $(sha256sum bad.blob | cut -d' ' -f1) != "${layer#sha256:}" ]]; then
	test_ok "same size, wrong digest"
else
	test_not_ok "same size, wrong digest"
fi
expect_failure "skopeo copy refuses the corrupted blob" \
	skopeo --insecure-policy copy --src-tls-verify=false "docker://$FAULT_bad/fx/big:1" oci:corrupt:x

# Blob redirects to a second loopback host.
if ! alt_loopback_ok; then
	test_skip "blob redirects to a second loopback host" "$ALT_LOOPBACK cannot be bound here"
else
	expect_success "blob store on $ALT_LOOPBACK (--blob-dir)" \
		fault_server_start --name blobs --addr "$ALT_LOOPBACK" --blob-dir "$REGISTRY_DIR_open/data"
	expect_success "fault server redirecting blobs" \
		fault_server_start --name redir --upstream "$REGISTRY_open" --redirect-blobs-to "$FAULT_URL_blobs"
	expect_output "a blob GET is redirected to $ALT_LOOPBACK" "307 $FAULT_URL_blobs$blobpath" \
		curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$FAULT_URL_redir$blobpath"
	expect_success "curl -L with credentials follows the redirect" \
		curl -sf -L -u alice:s3cret -H 'Authorization: Bearer not-for-you' -o redir.blob "$FAULT_URL_redir$blobpath"
	expect_output "the redirected blob has the right digest" "${layer#sha256:}" \
		sh -c "sha256sum redir.blob | cut -d' ' -f1"
	if grep -q "^GET $blobpath range=- auth=yes host=$FAULT_redir status=307 action=redirect" "$FAULT_LOG_redir" &&
		grep -q "^GET $blobpath range=- auth=no host=$FAULT_blobs status=200 action=blob-dir" "$FAULT_LOG_blobs"; then
		test_ok "the redirect target saw no Authorization"
	else
		test_not_ok "the redirect target saw no Authorization" "$(cat "$FAULT_LOG_redir" "$FAULT_LOG_blobs")"
	fi
	expect_success "curl --location-trusted does forward it" \
		curl -sf --location-trusted -u alice:s3cret -o /dev/null "$FAULT_URL_redir$blobpath"
	expect_output "and the target logs it (the check can see a leak)" 1 \
		grep -c "^GET $blobpath range=- auth=yes host=$FAULT_blobs" "$FAULT_LOG_blobs"
	expect_success "the blob store honours Range" \
		curl -sf -r 100-199 -o range.blob "$FAULT_URL_blobs$blobpath"
	expect_output "100 bytes" 100 stat -c %s range.blob
	expect_success "skopeo copy follows the redirects" \
		skopeo --insecure-policy copy --src-tls-verify=false "docker://$FAULT_redir/fx/big:1" oci:redirected:x
	compare "the layer arrived intact" "$SEED_LAYOUT/blobs/sha256/${layer#sha256:}" \
		"redirected/blobs/sha256/${layer#sha256:}"
fi

# --- stopping ------------------------------------------------------------------
pid=$FAULT_PID_drop
fault_server_stop drop
if ! kill -0 "$pid" 2>/dev/null && [[ -z ${FAULT_drop-} ]]; then
	test_ok "fault_server_stop NAME stops that fixture"
else
	test_not_ok "fault_server_stop NAME stops that fixture" "pid $pid"
fi

test_done
