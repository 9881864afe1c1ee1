#!/usr/bin/env bash
# t0100-registry: the test harness itself - scratch environment, check helpers,
# throwaway registries (open HTTP; TLS with htpasswd), seed_image.
. "$(dirname "$0")/../lib.sh"
test_init

# --- the scratch environment -------------------------------------------------
case $PWD in
"$TEST_DIR") test_ok "test_init cds into the scratch dir" ;;
*) test_not_ok "test_init cds into the scratch dir" "PWD=$PWD TEST_DIR=$TEST_DIR" ;;
esac
if [[ $HOME == "$TEST_DIR"/* && $XDG_CONFIG_HOME == "$TEST_DIR"/* &&
	$XDG_CACHE_HOME == "$TEST_DIR"/* && $DOCKER_CONFIG == "$TEST_DIR"/* &&
	$REGISTRY_AUTH_FILE == "$TEST_DIR"/* && $XDG_RUNTIME_DIR == "$TEST_DIR"/* &&
	$LC_ALL == C && $TZ == UTC && -z ${HOIST_CACHE-} && -z ${https_proxy-} ]]; then
	test_ok "environment points inside the scratch dir"
else
	test_not_ok "environment points inside the scratch dir" "HOME=$HOME DOCKER_CONFIG=$DOCKER_CONFIG"
fi

# --- the check helpers themselves (their stdout must not leak) ---------------
expect_success "expect_success passes on status 0" true
expect_code 3 "expect_code matches an exact status" sh -c 'exit 3'
expect_output "expect_output compares stdout" "a b" echo a b
expect_success "inner" echo leaked >inner.txt 2>/dev/null
if [[ $(cat inner.txt) == "ok - $TEST_NAME: inner" ]] && grep -qx leaked "$OUT"; then
	test_ok "command stdout goes to \$OUT, not the test's stdout"
else
	test_not_ok "command stdout goes to \$OUT, not the test's stdout" "got: $(cat inner.txt)"
fi
expect_failure "inner" sh -c 'kill -SEGV $$' >inner.txt 2>/dev/null
_t_failed=$((_t_failed - 1)) # that "not ok" was wanted (and went to inner.txt)
if [[ $(cat inner.txt) == "not ok - "* ]]; then
	test_ok "expect_failure rejects a crash"
else
	test_not_ok "expect_failure rejects a crash" "got: $(cat inner.txt)"
fi
printf 'x\n' >a
printf 'x\n' >b
compare "compare accepts identical files" a b

# --- the binary under test ---------------------------------------------------
expect_success "hoist version runs" hoist version

# --- an open HTTP registry ---------------------------------------------------
expect_success "registry_start (HTTP) starts a registry" registry_start
open=$REGISTRY
if [[ $REGISTRY == 127.0.0.1:* ]]; then
	test_ok "REGISTRY is a loopback address"
else
	test_not_ok "REGISTRY is a loopback address" "REGISTRY=${REGISTRY-}"
fi
expect_output "/v2/ answers 200" 200 \
	curl -s -o /dev/null -w '%{http_code}' "http://$REGISTRY/v2/"
expect_success "seed_image pushes an image" seed_image library/hello:1
expect_success "skopeo inspect sees it" \
	skopeo inspect --tls-verify=false "docker://$REGISTRY/library/hello:1"
expect_output "the pushed digest is the seeded one" "$SEED_DIGEST" \
	jq -r .Digest "$OUT"
expect_success "the seed layout passes umoci stat" \
	umoci stat --image "$SEED_LAYOUT:seed"
first=$SEED_DIGEST
expect_success "seed_image --content" seed_image --content other library/hello:2
if [[ $SEED_DIGEST == sha256:* && $SEED_DIGEST != "$first" ]]; then
	test_ok "different --content, different digest"
else
	test_not_ok "different --content, different digest" "$first vs $SEED_DIGEST"
fi

# --- a TLS + htpasswd registry, running at the same time ----------------------
expect_success "registry_start --tls --htpasswd --name sec" \
	registry_start --tls --htpasswd alice:s3cret --name sec
if [[ -n ${REGISTRY_sec-} && $REGISTRY_sec != "$open" && -s $REGISTRY_CA_sec ]]; then
	test_ok "named registry variables are set"
else
	test_not_ok "named registry variables are set" "REGISTRY_sec=${REGISTRY_sec-} CA=${REGISTRY_CA_sec-}"
fi
expect_success "seed_image with credentials" seed_image --name sec private/app:v1
expect_output "anonymous access is refused (401)" 401 \
	curl -s -o /dev/null -w '%{http_code}' --cacert "$REGISTRY_CA_sec" \
	"https://$REGISTRY_sec/v2/private/app/tags/list"
expect_output "wrong password is refused (401)" 401 \
	curl -s -o /dev/null -w '%{http_code}' --cacert "$REGISTRY_CA_sec" -u alice:wrong \
	"https://$REGISTRY_sec/v2/private/app/tags/list"
expect_output "authenticated access with the generated CA works" v1 \
	sh -c "curl -sf --cacert '$REGISTRY_CA_sec' -u alice:s3cret \
		'https://$REGISTRY_sec/v2/private/app/tags/list' | jq -r '.tags[]'"
expect_failure "the server certificate is not trusted without the CA" \
	curl -sf -u alice:s3cret "https://$REGISTRY_sec/v2/"
expect_success "skopeo with the CA directory and creds" \
	skopeo inspect --cert-dir "$REGISTRY_CERTS_sec" --creds alice:s3cret \
	"docker://$REGISTRY_sec/private/app:v1"

# --- stopping ------------------------------------------------------------------
pid=$REGISTRY_PID_sec
registry_stop sec
if ! kill -0 "$pid" 2>/dev/null && [[ -z ${REGISTRY_sec-} ]]; then
	test_ok "registry_stop NAME stops that registry"
else
	test_not_ok "registry_stop NAME stops that registry" "pid $pid"
fi
expect_output "the other registry still answers" 200 \
	curl -s -o /dev/null -w '%{http_code}' "http://$open/v2/"

test_done
