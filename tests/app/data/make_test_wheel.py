# Writes a minimal wheel (a zip with dist-info METADATA, WHEEL, RECORD) holding one file, so
# that `pip download` can fetch it from a local --find-links directory without a network.
# Usage: make_test_wheel.py OUT_DIR DIST VERSION MEMBER_PATH SOURCE_FILE; prints the path.
import base64, hashlib, sys, zipfile
out, dist, ver, member, src = sys.argv[1:6]
name = f"{dist}-{ver}-py3-none-any.whl"
info = f"{dist}-{ver}.dist-info"
files = {
    member: open(src, "rb").read(),
    f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {dist}\nVersion: {ver}\n".encode(),
    f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: ragd-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = ""
for path, data in files.items():
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    record += f"{path},sha256={digest},{len(data)}\n"
record += f"{info}/RECORD,,\n"
files[f"{info}/RECORD"] = record.encode()
with zipfile.ZipFile(f"{out}/{name}", "w", zipfile.ZIP_STORED) as z:
    for path, data in files.items():
        z.writestr(zipfile.ZipInfo(path, (2020, 1, 1, 0, 0, 0)), data)
print(f"{out}/{name}")
