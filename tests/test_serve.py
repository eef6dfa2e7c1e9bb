"""`openhmr serve`: the request jobs, and the page in a real browser (Debian's Chromium
driven by Selenium; skipped, with the reason, where either is missing)."""

import json
import os
import shutil
import socket
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from openhmr.errors import OpenHMRError

ROOT = Path(__file__).resolve().parents[1]
ASTRONAUT = ROOT / "examples" / "astronaut.jpg"
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture(scope="module")
def model():
    from openhmr.predict.predictor import load_model

    return load_model()


def test_a_photo_gives_an_overlay_a_viewer_mesh_json_and_meshes(tmp_path, model):
    from openhmr.serve.jobs import photo_job

    result = photo_job(model, ASTRONAUT, tmp_path)
    document = json.loads(result.json.read_text())
    assert len(document["people"]) >= 1 and result.summary.startswith(f"{len(document['people'])} person")
    assert Image.open(result.overlay).size == Image.open(ASTRONAUT).size
    import trimesh

    viewer = trimesh.load(result.viewer, force="mesh")
    one_body = trimesh.load(result.meshes[0], process=False)
    assert len(viewer.vertices) == len(document["people"]) * len(one_body.vertices)  # one body per person
    # Turned y up for the viewer: the head is above the feet.
    head, feet = viewer.vertices[:, 1].max(), viewer.vertices[:, 1].min()
    assert head - feet > 0.3 and len(result.meshes) == len(document["people"])
    # The page's "Refine" switch: the people are fitted to MediaPipe's evidence.
    (tmp_path / "refined").mkdir()
    refined = photo_job(model, ASTRONAUT, tmp_path / "refined", refine=True)
    people = json.loads(refined.json.read_text())["people"]
    assert "refined by fitting" in refined.summary and all("reprojection_error_px" in p for p in people)
    # The "Upright" switch: the crop is turned before the network, so the body changes.
    (tmp_path / "upright").mkdir()
    turned = photo_job(model, ASTRONAUT, tmp_path / "upright", upright=True)
    people_up = json.loads(turned.json.read_text())["people"]
    assert "turned upright" in turned.summary and len(people_up) == len(document["people"])
    assert np.abs(np.array(people_up[0]["pose"]) - np.array(document["people"][0]["pose"])).max() > 1e-3
    # The "Flip" switch (on by default): off, the network reads the crop once, so the body changes.
    assert "mirrored crop" in result.summary
    (tmp_path / "one-pass").mkdir()
    once = photo_job(model, ASTRONAUT, tmp_path / "one-pass", flip=False)
    people_once = json.loads(once.json.read_text())["people"]
    assert "mirrored crop" not in once.summary and len(people_once) == len(document["people"])
    assert np.abs(np.array(people_once[0]["pose"]) - np.array(document["people"][0]["pose"])).max() > 1e-3


def test_bad_files_and_empty_photos_get_one_sentence(tmp_path, model):
    from openhmr.serve.jobs import photo_job, video_job

    bad = tmp_path / "notes.png"
    bad.write_text("not a picture")
    with pytest.raises(OpenHMRError, match="This file cannot be used: not an image"):
        photo_job(model, bad, tmp_path)
    empty = tmp_path / "wall.png"
    Image.fromarray(np.full((240, 320, 3), 200, np.uint8)).save(empty)
    with pytest.raises(OpenHMRError, match="No person found"):
        photo_job(model, empty, tmp_path)
    cv2 = pytest.importorskip("cv2")
    long_video = tmp_path / "long.avi"
    writer = cv2.VideoWriter(str(long_video), cv2.VideoWriter_fourcc(*"MJPG"), 1, (64, 64))
    for _ in range(25):
        writer.write(np.zeros((64, 64, 3), np.uint8))
    writer.release()
    with pytest.raises(OpenHMRError, match="25 s long; this demo takes up to 20 s"):
        video_job(model, long_video, tmp_path, max_seconds=20)
    with pytest.raises(OpenHMRError, match="not a video"):
        video_job(model, bad, tmp_path)


def test_each_request_gets_its_own_folder_and_old_ones_are_removed():
    from openhmr.serve.jobs import Workspace

    space = Workspace(keep_s=0.0)
    try:
        first = space.new()
        (first / "photo.json").write_text("{}")
        os.utime(first, (0, 0))
        second = space.new()
        assert second != first and not first.exists() and second.parent == space.root
    finally:
        space.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(model):
    pytest.importorskip("gradio")
    from openhmr.serve.app import build_app, launch

    app = build_app(model)
    yield launch(app, "127.0.0.1", free_port(), block=False)
    app.close()
    app.workspace.close()


@pytest.fixture
def browser():
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("Debian's chromium and chromium-driver are not installed (scripts/test_deps.sh installs them)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1400,1800", "--use-gl=swiftshader", "--enable-unsafe-swiftshader"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)  # the system driver: nothing downloaded
    yield driver
    driver.quit()


def drawn_fraction(element) -> float:
    """The share of an element's pixels that are not the page's white background."""
    import io

    pixels = np.asarray(Image.open(io.BytesIO(element.screenshot_as_png)).convert("L"))
    return float((pixels < 235).mean())


def test_the_page_turns_an_uploaded_photo_into_an_overlay_a_3d_view_and_json(server, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 120)
    browser.get(server)
    upload = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#photo-input input[type=file]")))
    upload.send_keys(str(ASTRONAUT))
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#photo-preview img")))  # checked, then shown
    browser.find_element(By.ID, "run-photo").click()
    overlay = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#photo-overlay img")))
    assert overlay.get_attribute("naturalWidth") == str(Image.open(ASTRONAUT).width)
    viewer = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#photo-viewer canvas")))
    wait.until(lambda _: drawn_fraction(viewer) > 0.03)  # the WebGL viewer has drawn the body
    link = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#photo-json a[href]")))
    with urllib.request.urlopen(link.get_attribute("href")) as response:
        document = json.load(response)
    assert len(document["people"]) >= 1 and len(document["people"][0]["keypoints_2d"]) == 17
    assert "person(s) found" in browser.find_element(By.ID, "photo-summary").text
    browser.execute_script("window.scrollTo(0, 0)")
    shot = Path(os.environ.get("OPENHMR_SCREENSHOT", tmp_path / "serve.png"))
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000


def bomb_png(path: Path) -> Path:
    """A small PNG whose header declares 12000x12000 pixels (decoding it would take ~430 MB)."""
    import zlib

    Image.new("L", (16, 16)).save(path)  # a valid file to patch: IHDR width/height and its CRC
    data = bytearray(path.read_bytes())
    data[16:24] = (12000).to_bytes(4, "big") * 2
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    path.write_bytes(bytes(data))
    return path


def resident_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    pytest.skip("no /proc/self/status on this system")


def test_a_bounded_load_answers_every_good_request_and_every_bad_one_with_a_sentence(server, tmp_path):
    """8 good and 3 bad requests at once against the running server: the good ones all get
    people, the bad ones one sentence each (no server path, no Gradio preprocessing error), the
    uploads stay in the server's private folder, and memory comes back within 10 %."""
    from concurrent.futures import ThreadPoolExecutor

    client_module = pytest.importorskip("gradio_client")
    client = client_module.Client(server, verbose=False)
    notes = tmp_path / "notes.jpg"
    notes.write_text("not a picture")
    wall = tmp_path / "wall.png"
    Image.fromarray(np.full((240, 320, 3), 200, np.uint8)).save(wall)
    bad = {notes: "This file cannot be used: not an image", bomb_png(tmp_path / "bomb.png"): "refused as a decompression bomb",
           wall: "No person found in this photo."}

    def ask(path):
        try:
            return client.predict(client_module.handle_file(str(path)), False, api_name="/on_photo")
        except Exception as e:  # noqa: BLE001 - the client's error carries the server's sentence
            return e

    ask(ASTRONAUT)  # warm: the first request loads what later ones reuse
    before = resident_mb()
    with ThreadPoolExecutor(11) as pool:
        answers = list(pool.map(ask, [ASTRONAUT] * 8 + list(bad)))
    for answer in answers[:8]:
        assert not isinstance(answer, Exception), answer
        assert "person(s) found" in answer[-1]
    for answer, expected in zip(answers[8:], bad.values()):
        assert isinstance(answer, Exception) and expected in str(answer), answer
        assert "preprocess" not in str(answer) and "/tmp" not in str(answer)
    assert resident_mb() <= 1.1 * before
    cache = Path(os.environ["GRADIO_TEMP_DIR"])
    assert cache.is_dir() and any(cache.rglob("astronaut.jpg"))  # uploads land in the private folder
    assert os.stat(cache.parent).st_mode & 0o077 == 0  # which only this user can enter


def test_the_server_removes_its_folder_when_stopped(tmp_path):
    """`openhmr serve` then Ctrl+C: nothing it made stays in the temp folder, and while it runs
    everything it made is in its private workspace. Run alone too: in the full suite earlier
    tests had set GRADIO_TEMP_DIR and TORCHINDUCTOR_CACHE_DIR in this process, which the server
    inherited, and that hid Gradio's and torch's folders in the system temp folder."""
    import signal
    import subprocess
    import sys
    import time

    pytest.importorskip("gradio")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("GRADIO_TEMP_DIR", "TORCHINDUCTOR_CACHE_DIR")}
    env["TMPDIR"] = str(tmp_path)
    # Ctrl+C as in a terminal, whatever this process's own SIGINT handling was left as.
    process = subprocess.Popen([sys.executable, "-m", "openhmr", "serve", "--port", str(port)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
    try:
        deadline = time.time() + 300
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).close()
                break
            except OSError:
                assert process.poll() is None, process.stdout.read()
                time.sleep(1)
        assert [p.name[:14] for p in tmp_path.iterdir()] == ["openhmr-serve-"]
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            pytest.fail(f"the server did not stop within 60 s of Ctrl+C; it said:\n{process.communicate()[0]}")
    finally:
        process.kill()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(("openhmr-serve-", "gradio"))]
