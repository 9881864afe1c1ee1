#!/usr/bin/env bash
# t0330-transport - transport behaviour against real registries that the
# other tests do not cover: client certificates from certs.d (mutual TLS,
# as docker and podman read HOST:PORT/client.cert and client.key), and a 429
# with Retry-After answered by waiting and retrying.
. "$(dirname "$0")/../lib.sh"
test_init

registry_start --client-certs >/dev/null || { test_not_ok "mTLS registry starts"; test_done; }
R=$REGISTRY
# seed_image knows nothing of client certificates: build a tiny layout by
# hand and push it with skopeo's cert dir
mkdir -p skcerts && cp "$REGISTRY_CA" skcerts/ca.crt &&
	cp "$REGISTRY_DIR/client.cert" skcerts/client.cert && cp "$REGISTRY_DIR/client.key" skcerts/client.key
layout=$TEST_DIR/src
mkdir -p "$layout/blobs/sha256"
printf 'hello mtls\n' >payload
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf layer.tar payload
ld=$(sha256sum layer.tar | cut -d' ' -f1); ls=$(stat -c %s layer.tar)
cp layer.tar "$layout/blobs/sha256/$ld"
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$ld" >cfg.json
cd_=$(sha256sum cfg.json | cut -d' ' -f1); cs=$(stat -c %s cfg.json)
cp cfg.json "$layout/blobs/sha256/$cd_"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' "$cd_" "$cs" "$ld" "$ls" >m.json
md=$(sha256sum m.json | cut -d' ' -f1); ms=$(stat -c %s m.json)
cp m.json "$layout/blobs/sha256/$md"
printf '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"hello"}}]}' "$md" "$ms" >"$layout/index.json"
expect_success "skopeo pushes with a client certificate" \
	skopeo --insecure-policy copy --quiet --preserve-digests --dest-cert-dir "$TEST_DIR/skcerts" \
	"oci:$layout:hello" "docker://$R/library/mtls:1"

mkdir -p "certs.d/$R"
cp "$REGISTRY_CA" "certs.d/$R/ca.crt"
export HOIST_CERTS_DIR=$TEST_DIR/certs.d
expect_code 1 "without a client certificate the registry refuses the connection" \
	hoist digest "$R/library/mtls:1"
grep -q -- 'cannot connect to registry' "$ERR" && test_ok "without a client certificate the registry refuses the connection: the message says why" ||
	test_not_ok "without a client certificate the registry refuses the connection: the message says why" "$(cat "$ERR")"
cp "$REGISTRY_DIR/client.cert" "$REGISTRY_DIR/client.key" "certs.d/$R/"
expect_output "with certs.d/HOST:PORT/client.cert and client.key it works" \
	"sha256:$md" hoist digest "$R/library/mtls:1"
expect_success "a blob comes over mutual TLS too" \
	sh -c '"$HOIST" blob "$1" > blob.out && cmp blob.out layer.tar' _ "$R/library/mtls@sha256:$ld"
unset HOIST_CERTS_DIR

# 429 with Retry-After: waited for, then retried
registry_start --name plain >/dev/null
P=$REGISTRY_plain
skopeo --insecure-policy copy --quiet --preserve-digests --dest-tls-verify=false \
	"oci:$layout:hello" "docker://$P/library/rate:1" >/dev/null 2>&1
if fault_server_start --upstream "$P" --status-once 429:1 --status-match 'manifests' >/dev/null 2>&1; then
	export HOIST_RETRY_BASE_MS=50
	expect_output "a 429 with Retry-After is waited for and retried" "sha256:$md" \
		hoist digest "$FAULT/library/rate:1"
	grep -q 'status=429' "$FAULT_LOG" && test_ok "the 429 was served" ||
		test_not_ok "the 429 was served" "$(cat "$FAULT_LOG")"
	fault_server_stop
	fault_server_start --upstream "$P" --status-once 429:3600 --status-match 'manifests' >/dev/null 2>&1
	expect_code 1 "a Retry-After beyond the limit is reported, not slept through" \
		timeout 20 "$HOIST" digest "$FAULT/library/rate:1"
	grep -qi 'rate\|429\|too many' "$ERR" && test_ok "the message names the rate limit" ||
		test_not_ok "the message names the rate limit" "$(cat "$ERR")"
	fault_server_stop
else
	test_not_ok "fault server starts"
fi

# Credentials never go over plain HTTP to a host that is not loopback: a
# loopback registry (plain HTTP is fine for it) whose token realm is plain
# HTTP on a host name that is not loopback by name (this machine's own name
# when /etc/hosts maps it to 127.x, so that nothing leaves the machine).
me=$(hostname)
if [[ $(getent hosts "$me" | awk '{print $1; exit}') == 127.* ]] &&
	token_server_start --user alice:s3cret-pw >/dev/null 2>&1; then
	realm="http://$me:${TOKEN_SERVER##*:}/token"
	registry_start --name tok --token "$realm" "$TOKEN_ISSUER" "$TOKEN_SERVICE" \
		"$TOKEN_CERT" >/dev/null
	T=$REGISTRY_tok
	mkdir -p "$DOCKER_CONFIG"
	printf '{"auths":{"%s":{"auth":"%s"}}}' "$T" "$(printf alice:s3cret-pw | base64)" \
		>"$DOCKER_CONFIG/config.json"
	: >"$TOKEN_LOG"
	expect_code 1 "Basic credentials are not sent to a plain-HTTP realm that is not loopback" \
		hoist ls "$T/library/x"
	grep -q 'plain HTTP' "$ERR" && test_ok "the refusal says why" ||
		test_not_ok "the refusal says why" "$(cat "$ERR")"
	grep -q 'auth=basic' "$TOKEN_LOG" && test_not_ok "the realm got no credentials" \
		"$(cat "$TOKEN_LOG")" || test_ok "the realm got no credentials"
	# the repository does not exist: getting that far means the token came
	expect_code 1 "with --insecure they are sent" hoist --insecure ls "$T/library/x"
	grep -q 'NAME_UNKNOWN' "$ERR" && test_ok "authenticated: the registry says no such repository" ||
		test_not_ok "authenticated: the registry says no such repository" "$(cat "$ERR")"
	grep -q 'auth=basic' "$TOKEN_LOG" && test_ok "the realm got them with --insecure" ||
		test_not_ok "the realm got them with --insecure" "$(cat "$TOKEN_LOG")"
	rm -f "$DOCKER_CONFIG/config.json"
else
	test_skip "plain-HTTP realm check" "'$me' does not resolve to loopback here"
fi

# A 401 insufficient_scope (the token lacks an action) is answered with a
# new token for the scopes the challenge names, once.
token_server_stop 2>/dev/null
if token_server_start --user bob:b0b-pw --deny-push-once library/scoped >/dev/null 2>&1 &&
	registry_start_token --name scope >/dev/null; then
	S=$REGISTRY_scope
	seed_image --name scope library/src:1 >/dev/null 2>&1
	mkdir -p "$DOCKER_CONFIG"
	printf '{"auths":{"%s":{"auth":"%s"}}}' "$S" "$(printf bob:b0b-pw | base64)" \
		>"$DOCKER_CONFIG/config.json"
	: >"$TOKEN_LOG"
	expect_success "a push whose first token lacks push succeeds after insufficient_scope" \
		hoist copy "$S/library/src:1" "$S/library/scoped:1"
	[[ $(grep -c 'granted=.*library/scoped:.*push' "$TOKEN_LOG") -ge 1 &&
		$(grep -c 'library/scoped' "$TOKEN_LOG") -ge 2 ]] &&
		test_ok "a second token was asked for the named scope" ||
		test_not_ok "a second token was asked for the named scope" "$(cat "$TOKEN_LOG")"
	expect_output "the copy is there" "$SEED_DIGEST" hoist digest "$S/library/scoped:1"
	rm -f "$DOCKER_CONFIG/config.json"
else
	test_not_ok "token registry starts (scope)"
fi

# Docker schema 1 (which docker-registry no longer serves): refused by name
cat >schema1.json <<'S1'
{"schemaVersion":1,"name":"library/old","tag":"1","architecture":"amd64","fsLayers":[{"blobSum":"sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4"}],"history":[{"v1Compatibility":"{}"}],"signatures":[]}
S1
if fault_server_start --upstream "$P" \
	--serve-manifest "application/vnd.docker.distribution.manifest.v1+prettyjws:$TEST_DIR/schema1.json" \
	>/dev/null 2>&1; then
	expect_code 1 "a Docker schema 1 manifest is refused" hoist manifest "$FAULT/library/old:1"
	grep -qi 'schema 1\|schema1\|v1+prettyjws' "$ERR" && test_ok "the refusal names schema 1" ||
		test_not_ok "the refusal names schema 1" "$(cat "$ERR")"
else
	test_not_ok "fault server starts (schema 1)"
fi
test_done
