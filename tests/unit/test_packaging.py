"""Package zips: contents, file names, the launch page and its configuration, the self-check."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from scorm_packages.manifest import ManifestSpec
from scorm_packages.manifest.checks import check_package
from scorm_packages.packaging import (
    PACKAGE_FILES,
    PackageSpec,
    PackagingError,
    build_package,
    config_js,
    normalize_base_url,
    origin_of,
    package_filename,
    slug,
)
from tests.schemas import schema



def pspec(title: str = "Workplace Safety", fmt: str = "scorm12", license_type: str = "volume",
          base_url: str = "https://courses.example.com/", catalog_id: str = "SAFE-101") -> PackageSpec:
    manifest = ManifestSpec("dpk_testkey", catalog_id, title, license_type, 0.8, description="d", files=PACKAGE_FILES)
    return PackageSpec(manifest=manifest, fmt=fmt, base_url=base_url, generation=3, secret="s" * 43)


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def config_of(files: dict[str, bytes]) -> dict[str, object]:
    text = files["config.js"].decode("ascii")
    match = re.search(r"window\.DISPATCH_CONFIG = (\{.*\});\s*$", text, re.S)
    assert match, text
    return json.loads(match.group(1))


@pytest.mark.parametrize("fmt", ["scorm12", "scorm2004"])
def test_zip_holds_the_manifest_launch_page_script_and_config(fmt: str) -> None:
    built = build_package(pspec(fmt=fmt))
    assert built.filename == f"workplace-safety__volume__{fmt}.zip"
    files = unzip(built.data)
    assert list(files) == ["imsmanifest.xml", "index.html", "dispatch.js", "config.js"]
    assert check_package(io.BytesIO(built.data)) == []
    config = config_of(files)
    assert config["packageKey"] == "dpk_testkey" and config["generation"] == 3 and config["secret"] == "s" * 43
    assert config["baseUrl"] == "https://courses.example.com"
    assert config["productOrigin"] == "https://courses.example.com"
    assert config["launchUrl"] == "https://courses.example.com/dispatch/launch"
    assert config["timeUrl"] == "https://courses.example.com/dispatch/time"
    assert config["format"] == fmt and config["scormVersion"] == ("1.2" if fmt == "scorm12" else "2004")
    assert config["course"] == {"id": "SAFE-101", "title": "Workplace Safety", "licenseType": "volume",
                                "licenseLabel": "Volume", "masteryPercent": 80.0}
    assert b"DispatchCmi" in files["dispatch.js"]
    # nothing of the real course: only these four small files
    assert sum(len(v) for v in files.values()) < 60_000


def test_manifest_in_the_zip_validates(tmp_path: Path) -> None:
    for fmt in ("scorm12", "scorm2004"):
        xsd = schema(fmt)
        manifest = unzip(build_package(pspec('Fire & "Safety" <b>', fmt=fmt)).data)["imsmanifest.xml"]
        assert xsd.validate(etree.fromstring(manifest)), [e.message for e in xsd.error_log]


def test_launch_page_escapes_the_title_and_loads_config_before_script() -> None:
    files = unzip(build_package(pspec('Fire & "Safety" <script>alert(1)</script> 防火')).data)
    page = files["index.html"].decode("utf-8")
    assert "<title>Fire &amp; &quot;Safety&quot; &lt;script&gt;alert(1)&lt;/script&gt; 防火 \u2014 Volume</title>" in page
    assert "<script>alert" not in page
    assert page.index('src="config.js"') < page.index('src="dispatch.js"')
    config_text = files["config.js"].decode("ascii")  # 7-bit: \\u escapes for the Japanese title
    assert config_of(files)["course"]["title"] == 'Fire & "Safety" <script>alert(1)</script> 防火'  # type: ignore[index]
    assert "\\u9632" in config_text


def test_the_same_inputs_give_the_same_bytes() -> None:
    assert build_package(pspec()).data == build_package(pspec()).data
    assert build_package(pspec()).data != build_package(pspec(license_type="plus")).data


@pytest.mark.parametrize("title, catalog_id, expected", [
    ("Workplace Safety", "C-1", "workplace-safety__volume__scorm12.zip"),
    ("  Fire & Safety: Level 2!  ", "C-1", "fire-safety-level-2__volume__scorm12.zip"),
    ("Sécurité au travail", "C-1", "securite-au-travail__volume__scorm12.zip"),
    ("職場の安全衛生", "JP-0042", "jp-0042__volume__scorm12.zip"),
    ("職場の安全衛生", "職場", "course__volume__scorm12.zip"),
    ("x" * 200, "C-1", "x" * 60 + "__volume__scorm12.zip"),
])
def test_file_names(title: str, catalog_id: str, expected: str) -> None:
    assert package_filename(title, catalog_id, "volume", "scorm12") == expected


def test_file_name_labels() -> None:
    assert package_filename("A", "C", "ppu", "scorm2004") == "a__ppu__scorm2004.zip"
    assert package_filename("A", "C", "plus", "scorm12") == "a__plus__scorm12.zip"
    with pytest.raises(PackagingError):
        package_filename("A", "C", "plus", "scorm3")


def test_slug_is_ascii_words() -> None:
    assert slug("--Hello,  World--") == "hello-world"
    assert slug("日本") == ""


@pytest.mark.parametrize("bad", ["", "courses.example.com", "ftp://x.example", "https://", "https://x.example/?a=1",
                                 "https://user:pw@x.example", "javascript:alert(1)"])
def test_bad_base_urls_are_refused(bad: str) -> None:
    with pytest.raises(PackagingError, match="base URL"):
        normalize_base_url(bad)
    with pytest.raises(PackagingError):
        build_package(pspec(base_url=bad))


def test_base_url_with_a_path_and_port() -> None:
    assert normalize_base_url("http://127.0.0.1:5000/tool/") == "http://127.0.0.1:5000/tool"
    assert origin_of("http://127.0.0.1:5000/tool") == "http://127.0.0.1:5000"
    assert origin_of("https://x.example:443/a") == "https://x.example"
    config = config_of(unzip(build_package(pspec(base_url="http://127.0.0.1:5000/tool")).data))
    assert config["launchUrl"] == "http://127.0.0.1:5000/tool/dispatch/launch"
    assert config["productOrigin"] == "http://127.0.0.1:5000"


def test_a_package_needs_its_secret() -> None:
    spec = pspec()
    with pytest.raises(PackagingError, match="secret"):
        build_package(PackageSpec(spec.manifest, spec.fmt, spec.base_url, 1, ""))


def zipfile_reference(files: dict[str, bytes]) -> bytes:
    """The package's files zipped by ``zipfile`` (deflated, fixed time, mode 644), as packages
    were made before ``zip_members``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            archive.writestr(info, data)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["scorm12", "scorm2004"])
def test_the_zip_is_byte_for_byte_what_zipfile_writes(fmt: str) -> None:
    built = build_package(pspec("Fire & \"Safety\" 防火", fmt=fmt))
    files = unzip(built.data)
    assert built.data == zipfile_reference(files)
    with zipfile.ZipFile(io.BytesIO(built.data)) as archive:
        assert archive.testzip() is None
        assert {i.filename: (i.external_attr >> 16, i.date_time) for i in archive.infolist()} == {
            name: (0o644, (1980, 1, 1, 0, 0, 0)) for name in files}


@pytest.mark.parametrize("title", ["Workplace Safety", 'Fire & "Safety" </script> \\ 防火 😀', "\u2028\x07"])
def test_config_is_indented_json_with_sorted_keys_and_ascii_only(title: str) -> None:
    spec = pspec(title, catalog_id='C-"1"\\')
    text = config_js(spec)
    prefix, body = text.split("window.DISPATCH_CONFIG = ", 1)
    assert body.endswith(";\n") and text.isascii()
    data = json.loads(body[:-2])
    assert body[:-2] == json.dumps(data, ensure_ascii=True, indent=2, sort_keys=True)
    assert data["course"]["title"] == title and data["course"]["id"] == 'C-"1"\\'
    assert (data["packageKey"], data["generation"], data["secret"]) == ("dpk_testkey", 3, "s" * 43)
    other = config_of({"config.js": config_js(PackageSpec(spec.manifest, "scorm12", spec.base_url, 7, "t" * 43))
                                    .encode("ascii")})
    assert (other["generation"], other["secret"]) == (7, "t" * 43)
