"""Reference parsing, checked against distribution/reference's own test tables.

Cases marked (reference_test.go) come from TestReferenceParse, (normalize_test.go) from
TestValidateReferenceName / TestValidateRemoteName / TestParseRepositoryInfo / TestParseAnyReference /
TestNormalizedSplitHostname of github.com/distribution/reference; the rest are this project's own.
"""
from __future__ import annotations

import pytest
from ansible_collections.fleetops.docker.plugins.module_utils import (
    _image_reference as refs,
)

F64 = "f" * 64
DBCC = "dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c"

# reference_test.go TestReferenceParse: input -> (domain, name, tag, digest) for reference.Parse
PARSE_VALID = [
    ("test_com", ("", "test_com", "", "")),
    ("test.com:tag", ("", "test.com", "tag", "")),
    ("test.com:5000", ("", "test.com", "5000", "")),
    ("test.com/repo:tag", ("test.com", "test.com/repo", "tag", "")),
    ("test:5000/repo", ("test:5000", "test:5000/repo", "", "")),
    ("test:5000/repo:tag", ("test:5000", "test:5000/repo", "tag", "")),
    ("test:5000/repo@sha256:" + F64, ("test:5000", "test:5000/repo", "", "sha256:" + F64)),
    ("test:5000/repo:tag@sha256:" + F64, ("test:5000", "test:5000/repo", "tag", "sha256:" + F64)),
    ("lowercase:Uppercase", ("", "lowercase", "Uppercase", "")),
    ("a/" * 127 + "a:tag-puts-this-over-max", ("a", "a/" * 127 + "a", "tag-puts-this-over-max", "")),
    ("sub-dom1.foo.com/bar/baz/quux", ("sub-dom1.foo.com", "sub-dom1.foo.com/bar/baz/quux", "", "")),
    ("sub-dom1.foo.com/bar/baz/quux:some-long-tag", ("sub-dom1.foo.com", "sub-dom1.foo.com/bar/baz/quux", "some-long-tag", "")),
    ("b.gcr.io/test.example.com/my-app:test.example.com", ("b.gcr.io", "b.gcr.io/test.example.com/my-app", "test.example.com", "")),
    ("xn--n3h.com/myimage:xn--n3h.com", ("xn--n3h.com", "xn--n3h.com/myimage", "xn--n3h.com", "")),
    ("xn--7o8h.com/myimage:xn--7o8h.com@sha512:" + "f" * 128,
     ("xn--7o8h.com", "xn--7o8h.com/myimage", "xn--7o8h.com", "sha512:" + "f" * 128)),
    ("foo_bar.com:8080", ("", "foo_bar.com", "8080", "")),
    ("foo/foo_bar.com:8080", ("foo", "foo/foo_bar.com", "8080", "")),
    ("192.168.1.1", ("", "192.168.1.1", "", "")),
    ("192.168.1.1:5000/repo:5050", ("192.168.1.1:5000", "192.168.1.1:5000/repo", "5050", "")),
    ("[2001:db8::1]/repo", ("[2001:db8::1]", "[2001:db8::1]/repo", "", "")),
    ("[2001:db8:1:2:3:4:5:6]/repo:tag", ("[2001:db8:1:2:3:4:5:6]", "[2001:db8:1:2:3:4:5:6]/repo", "tag", "")),
    ("[2001:db8::1]:5000/repo:tag@sha256:" + F64, ("[2001:db8::1]:5000", "[2001:db8::1]:5000/repo", "tag", "sha256:" + F64)),
    ("[::1]:5000/repo", ("[::1]:5000", "[::1]:5000/repo", "", "")),
]

# reference_test.go TestReferenceParse: input -> docker's error text
PARSE_INVALID = [
    ("", refs.ERR_NAME_EMPTY),
    (":justtag", refs.ERR_INVALID_FORMAT),
    ("@sha256:" + F64, refs.ERR_INVALID_FORMAT),
    ("repo@sha256:" + "f" * 34, refs.ERR_DIGEST_FORMAT),
    ("validname@invaliddigest:" + F64, refs.ERR_DIGEST_UNSUPPORTED),
    ("Uppercase:tag", refs.ERR_UPPERCASE),
    ("test:5000/Uppercase/lowercase:tag", refs.ERR_UPPERCASE),
    ("a/" * 128 + "a:tag", refs.ERR_NAME_TOO_LONG),
    ("aa/asdf$$^/aa", refs.ERR_INVALID_FORMAT),
    ("[2001:db8::1]", refs.ERR_INVALID_FORMAT),
    ("[2001:db8::1]:5000", refs.ERR_INVALID_FORMAT),
    ("[2001:db8::1]:tag", refs.ERR_INVALID_FORMAT),
    ("[fe80::1%eth0]:5000/repo", refs.ERR_INVALID_FORMAT),
    ("[fe80::1%@invalidzone]:5000/repo", refs.ERR_INVALID_FORMAT),
]

# normalize_test.go TestValidateReferenceName / TestValidateRemoteName (valid with ParseNormalizedNamed)
NORMALIZED_VALID = [
    "docker/docker", "library/debian", "debian", "docker.io/docker/docker", "docker.io/library/debian",
    "docker.io/debian", "index.docker.io/docker/docker", "index.docker.io/library/debian", "index.docker.io/debian",
    "127.0.0.1:5000/docker/docker", "127.0.0.1:5000/library/debian", "127.0.0.1:5000/debian", "192.168.0.1",
    "192.168.0.1:80", "192.168.0.1:8/debian", "192.168.0.2:25000/debian",
    "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev", "[fc00::1]:5000/docker",
    "[fc00::1]:5000/docker/docker", "[fc00:1:2:3:4:5:6:7]:5000/library/debian",
    "docker.io/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a", "Docker/docker", "DOCKER/docker",
    "docker-rules/docker", "docker---rules/docker", "doc/docker", "d/docker", "jess/t", "dock__er/docker",
]

NORMALIZED_INVALID = [
    "https://github.com/docker/docker", "docker/Docker", "-docker", "-docker/docker", "-docker.io/docker/docker",
    "docker///docker", "docker.io/docker/Docker", "docker.io/docker///docker", "[fc00::1]", "[fc00::1]:5000",
    "fc00::1:5000/debian", "[fe80::1%eth0]:5000/debian", "[2001:db8:3:4::192.0.2.33]:5000/debian",
    "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a", "docker-/docker", "-docker-/docker",
    "____/____", "_docker/_docker", "dock..er/docker", "dock_.er/docker", "dock-.er/docker", "docker/",
    "this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_" * 4 + "/docker",
]

# normalize_test.go TestParseRepositoryInfo: input -> (familiar name, full name, domain, path)
REPOSITORY_INFO = [
    ("fooo/bar", ("fooo/bar", "docker.io/fooo/bar", "docker.io", "fooo/bar")),
    ("index.docker.io/fooo/bar", ("fooo/bar", "docker.io/fooo/bar", "docker.io", "fooo/bar")),
    ("library/ubuntu", ("ubuntu", "docker.io/library/ubuntu", "docker.io", "library/ubuntu")),
    ("nonlibrary/ubuntu", ("nonlibrary/ubuntu", "docker.io/nonlibrary/ubuntu", "docker.io", "nonlibrary/ubuntu")),
    ("other/library", ("other/library", "docker.io/other/library", "docker.io", "other/library")),
    ("127.0.0.1:8000/private/moonbase", ("127.0.0.1:8000/private/moonbase", "127.0.0.1:8000/private/moonbase",
                                         "127.0.0.1:8000", "private/moonbase")),
    ("example.com:8000/privatebasee", ("example.com:8000/privatebasee", "example.com:8000/privatebasee",
                                       "example.com:8000", "privatebasee")),
    ("ubuntu-12.04-base", ("ubuntu-12.04-base", "docker.io/library/ubuntu-12.04-base", "docker.io",
                           "library/ubuntu-12.04-base")),
    ("docker.io/foo", ("foo", "docker.io/library/foo", "docker.io", "library/foo")),
    ("library/foo/bar", ("library/foo/bar", "docker.io/library/foo/bar", "docker.io", "library/foo/bar")),
    ("store/foo/bar", ("store/foo/bar", "docker.io/store/foo/bar", "docker.io", "store/foo/bar")),
    ("Foo/bar", ("Foo/bar", "Foo/bar", "Foo", "bar")),
    ("FOO/bar", ("FOO/bar", "FOO/bar", "FOO", "bar")),
    ("test_com/foo", ("test_com/foo", "docker.io/test_com/foo", "docker.io", "test_com/foo")),
    ("test-com:8080/foo", ("test-com:8080/foo", "test-com:8080/foo", "test-com:8080", "foo")),
    ("xn--n3h.com:18080/foo", ("xn--n3h.com:18080/foo", "xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo")),
]

# What `docker pull X` resolves to (ParseNormalizedNamed + TagNameOnly), incl. the images the fleet requires
PULL_NORMALIZED = [
    ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("alpine", "docker.io/library/alpine:latest", "alpine:latest"),
    ("quay.io/centos7/httpd-24-centos7", "quay.io/centos7/httpd-24-centos7:latest", "quay.io/centos7/httpd-24-centos7:latest"),
    ("localhost:5000/x", "localhost:5000/x:latest", "localhost:5000/x:latest"),
    ("localhost/x", "localhost/x:latest", "localhost/x:latest"),
    ("docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("index.docker.io/library/busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
    ("redis@sha256:" + DBCC, "docker.io/library/redis@sha256:" + DBCC, "redis@sha256:" + DBCC),
    ("dmcgowan/myapp:latest", "docker.io/dmcgowan/myapp:latest", "dmcgowan/myapp:latest"),
]


@pytest.mark.parametrize("text, expected", PARSE_VALID, ids=[c[0][:60] for c in PARSE_VALID])
def test_parse_valid(text, expected):
    ref = refs.parse(text)

    assert (ref.domain, ref.name, ref.tag, ref.digest) == expected
    assert str(ref) == text


@pytest.mark.parametrize("text, error", PARSE_INVALID, ids=[c[0][:60] or "empty" for c in PARSE_INVALID])
def test_parse_invalid(text, error):
    with pytest.raises(refs.ImageReferenceError) as raised:
        refs.parse(text)

    assert raised.value.reason == error


@pytest.mark.parametrize("text", NORMALIZED_VALID)
def test_normalized_valid(text):
    assert refs.parse_normalized_named(text).path


@pytest.mark.parametrize("text", NORMALIZED_INVALID, ids=[t[:60] for t in NORMALIZED_INVALID])
def test_normalized_invalid(text):
    with pytest.raises(refs.ImageReferenceError):
        refs.parse_normalized_named(text)


@pytest.mark.parametrize("text, expected", REPOSITORY_INFO, ids=[c[0] for c in REPOSITORY_INFO])
def test_repository_info(text, expected):
    ref = refs.parse_normalized_named(text)

    assert (ref.familiar_name, ref.name, ref.domain, ref.path) == expected


@pytest.mark.parametrize("text, full, familiar", PULL_NORMALIZED, ids=[c[0][:40] for c in PULL_NORMALIZED])
def test_normalize_like_docker_pull(text, full, familiar):
    ref = refs.normalize(text)

    assert str(ref) == full
    assert ref.familiar == familiar


def test_tag_and_digest_keeps_both_but_docker_ref_drops_the_tag():
    # normalize_test.go TestParseReferenceWithTagAndDigest + ParseDockerRef's documentation
    text = "busybox:latest@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa"

    both = refs.parse_normalized_named(text)
    pulled = refs.parse_docker_ref(text)

    assert str(both) == "docker.io/library/" + text
    assert both.familiar == text
    assert str(pulled) == "docker.io/library/busybox@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa"
    assert pulled.pull_tag == "sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa"


def test_tag_length_limit():
    assert refs.normalize("busybox:" + "a" * 128).tag == "a" * 128
    with pytest.raises(refs.ImageReferenceError):
        refs.normalize("busybox:" + "a" * 129)


def test_64_hex_identifier_is_rejected_with_docker_message():
    with pytest.raises(refs.ImageReferenceError) as raised:
        refs.parse_normalized_named(DBCC)

    assert "cannot specify 64-byte hexadecimal strings" in str(raised.value)


@pytest.mark.parametrize("text, hint", [
    ("busybox:", "the tag after ':' is empty"),
    ("https://quay.io/org/app", "no URL scheme"),
    ("busybox @sha256:" + F64, "whitespace"),
    ("busybox@" + F64, "a digest needs an algorithm"),
    ("busybox@sha256:" + "a" * 63, "exactly 64 lower-case hex digits"),
    ("busybox@sha256:" + "A" * 64, "exactly 64 lower-case hex digits"),
])
def test_errors_name_the_input_and_explain_common_mistakes(text, hint):
    with pytest.raises(refs.ImageReferenceError) as raised:
        refs.normalize(text)

    assert repr(text) in str(raised.value)
    assert hint in str(raised.value)


def test_uppercase_repository_error_names_the_repository():
    with pytest.raises(refs.ImageReferenceError) as raised:
        refs.normalize("Busybox:latest")

    assert raised.value.reason == "invalid reference format: repository name (library/Busybox) must be lowercase"


def test_repository_of_repo_digest_entries():
    assert refs.repository_of("busybox@sha256:" + F64) == "docker.io/library/busybox"
    assert refs.repository_of("127.0.0.1:5055/fleetops/pinned@sha256:" + F64) == "127.0.0.1:5055/fleetops/pinned"
    assert refs.repository_of("<none>@<none>") is None
