#!/usr/bin/env python3
"""Writes the image fixtures for src/data's tests: image files in many formats and sizes plus
what Pillow 9.4 / torchvision 0.14 make of them, and files that must be refused.

Usage: make_image_fixtures.py --out DIR

DIR/manifest.json:
  images: [{file, format, width, height, decoded,            # decoded: raw RGB HWC bytes
            cases: [{resize, crop, interpolation, resized_width, resized_height,
                     resized (raw RGB, omitted when large), cropped (raw RGB),
                     tensor (raw float32 CHW)}],
            pil_resizes: [{width, height, interpolation, file}]}]  # Image.resize output
  interpolation: "bilinear" | "bicubic" (torchvision's InterpolationMode value; PIL's filter)
  bad: [{file, kind, pil_fails}]   # kind: corrupt_data | not_found | unsupported
All content is seeded noise plus gradients, so that resampling errors show.
"""
import argparse
import io
import json
import os
import struct
import zlib

import numpy as np
import torch
from PIL import Image
from torchvision import transforms

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]
DEFAULT_CASES = [(256, 224), (32, 28), (20, 28), (0, 8), (7, 9)]
# Resize(n, BICUBIC) + CenterCrop(m): downscales, upscales of the small images, odd sizes.
BICUBIC_CASES = [(256, 224), (20, 28), (7, 9)]
FILTERS = {"bilinear": (Image.BILINEAR, transforms.InterpolationMode.BILINEAR),
           "bicubic": (Image.BICUBIC, transforms.InterpolationMode.BICUBIC)}
MAX_STORED_RESIZED = 1_500_000  # bytes; larger resized images are checked via crop/tensor only


def content(width, height, seed, channels=3):
    """Noise over gradients (and a few sharp edges), uint8 HxWxC."""
    rng = np.random.default_rng(seed)
    x = np.linspace(0.0, 1.0, width)[None, :, None]
    y = np.linspace(0.0, 1.0, height)[:, None, None]
    phase = np.arange(channels)[None, None, :]
    base = 127.5 + 100.0 * np.sin(6.0 * x + 4.0 * y + phase) * np.cos(3.0 * y - 2.0 * x * phase)
    edges = np.where(((np.arange(width)[None, :, None] // 5) + (np.arange(height)[:, None, None] // 7)) % 2 == 0, 30.0, -30.0)
    noise = rng.normal(0.0, 25.0, size=(height, width, channels))
    return np.clip(base + edges + noise, 0, 255).astype(np.uint8)


def pil_bytes(img, fmt, **kwargs):
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


# ---------------------------------------------------------------- a tiny PNG writer
def _chunk(tag, data):
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def _pack_rows(samples, depth):
    out = bytearray()
    for row in samples:
        out.append(0)  # filter type None
        flat = row.reshape(-1).astype(np.int64)
        if depth == 16:
            out += flat.astype(">u2").tobytes()
        elif depth == 8:
            out += flat.astype(np.uint8).tobytes()
        else:
            per_byte = 8 // depth
            pad = (-len(flat)) % per_byte
            flat = np.concatenate([flat, np.zeros(pad, np.int64)]).reshape(-1, per_byte)
            shifts = np.array([8 - depth * (i + 1) for i in range(per_byte)])
            out += (flat << shifts).sum(axis=1).astype(np.uint8).tobytes()
    return bytes(out)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def png_bytes(samples, depth, color_type, palette=None, trns=None, interlace=False):
    """samples: HxWxC integer array of raw sample values for the colour type."""
    h, w = samples.shape[:2]
    if interlace:
        raw = b""
        for x0, y0, dx, dy in ADAM7:
            sub = samples[y0::dy, x0::dx]
            if sub.shape[0] and sub.shape[1]:
                raw += _pack_rows(sub, depth)
    else:
        raw = _pack_rows(samples, depth)
    data = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, int(interlace)))
    if palette is not None:
        data += _chunk(b"PLTE", bytes(np.asarray(palette, np.uint8).reshape(-1)))
    if trns is not None:
        data += _chunk(b"tRNS", trns)
    return data + _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b"")


# ---------------------------------------------------------------- YCCK JPEG via TurboJPEG
def ycck_jpeg_bytes(cmyk):
    """A YCCK (Adobe transform 2) JPEG, which PIL cannot write: TurboJPEG compresses CMYK
    pixels as YCCK. Called through ctypes on Debian's libturbojpeg0."""
    import ctypes
    tj = ctypes.CDLL("libturbojpeg.so.0")
    tj.tjInitCompress.restype = ctypes.c_void_p
    tj.tjCompress2.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                               ctypes.c_int, ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_ulong),
                               ctypes.c_int, ctypes.c_int, ctypes.c_int]
    tj.tjFree.argtypes = [ctypes.c_void_p]
    tj.tjDestroy.argtypes = [ctypes.c_void_p]
    handle = tj.tjInitCompress()
    h, w = cmyk.shape[:2]
    buf, size = ctypes.c_void_p(), ctypes.c_ulong(0)
    tjpf_cmyk, tjsamp_420 = 11, 2
    if tj.tjCompress2(handle, np.ascontiguousarray(cmyk).tobytes(), w, 0, h, tjpf_cmyk, ctypes.byref(buf),
                      ctypes.byref(size), tjsamp_420, 90, 0) != 0:
        raise RuntimeError("tjCompress2 failed")
    data = ctypes.string_at(buf, size.value)
    tj.tjFree(buf)
    tj.tjDestroy(handle)
    assert b"Adobe" in data
    return data


# ---------------------------------------------------------------- a tiny BMP writer
def bmp_bytes(width, height, bits, rows, palette=None, top_down=False, compression=0, masks=None, header_size=40):
    """rows: top-to-bottom list of unpadded row bytes. palette: list of (r, g, b)."""
    stride = ((width * bits + 31) // 32) * 4
    stored = rows if top_down else rows[::-1]
    pixels = b"".join(r + b"\0" * (stride - len(r)) for r in stored)
    pal = b"".join(bytes((b, g, r, 0)) for r, g, b in (palette or []))
    info = struct.pack("<IiiHHIIiiII", header_size, width, -height if top_down else height, 1, bits,
                       compression, len(pixels), 2835, 2835, len(palette or []), 0)
    if header_size > 40:
        extra = struct.pack("<IIII", *(masks or (0, 0, 0, 0))) + b"\0" * (header_size - 56)
        info += extra
    elif masks is not None:
        info += struct.pack("<III", *masks[:3])
    offset = 14 + len(info) + len(pal)
    return b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + info + pal + pixels


def pack_indices(indices, bits):
    per_byte = 8 // bits
    rows = []
    for row in indices:
        flat = list(int(v) for v in row) + [0] * ((-len(row)) % per_byte)
        out = bytearray()
        for i in range(0, len(flat), per_byte):
            byte = 0
            for j in range(per_byte):
                byte |= flat[i + j] << (8 - bits * (j + 1))
            out.append(byte)
        rows.append(bytes(out))
    return rows


# ---------------------------------------------------------------- the image set
def build_images():
    """Returns a list of (file name, bytes, extra cases or None, with pil_resizes?)."""
    out = []
    rgb = lambda w, h, s: Image.fromarray(content(w, h, s))

    # JPEG
    out.append(("jpeg_420_500x375.jpg", pil_bytes(rgb(500, 375, 1), "JPEG", quality=90, subsampling=2)))
    out.append(("jpeg_444_333x251.jpg", pil_bytes(rgb(333, 251, 2), "JPEG", quality=95, subsampling=0)))
    out.append(("jpeg_422_97x61.jpg", pil_bytes(rgb(97, 61, 3), "JPEG", quality=80, subsampling=1)))
    out.append(("jpeg_progressive_375x500.jpg", pil_bytes(rgb(375, 500, 4), "JPEG", quality=85, progressive=True)))
    out.append(("jpeg_optimized_q50_256x300.jpg", pil_bytes(rgb(256, 300, 5), "JPEG", quality=50, optimize=True)))
    out.append(("jpeg_gray_123x77.jpg", pil_bytes(Image.fromarray(content(123, 77, 6, 1)[:, :, 0], "L"), "JPEG")))
    out.append(("jpeg_cmyk_adobe_64x48.jpg", pil_bytes(Image.fromarray(content(64, 48, 7, 4), "CMYK"), "JPEG", quality=90)))
    out.append(("jpeg_ycck_adobe_45x31.jpg", ycck_jpeg_bytes(content(45, 31, 13, 4))))
    out.append(("jpeg_420_7x5.jpg", pil_bytes(rgb(7, 5, 8), "JPEG", subsampling=2)))
    out.append(("jpeg_1x1.jpg", pil_bytes(rgb(1, 1, 9), "JPEG")))
    out.append(("jpeg_2x3.jpg", pil_bytes(rgb(2, 3, 10), "JPEG")))
    out.append(("jpeg_400x3.jpg", pil_bytes(rgb(400, 3, 11), "JPEG")))
    out.append(("jpeg_large_2000x1500.jpg", pil_bytes(rgb(2000, 1500, 12), "JPEG", quality=85)))

    # PNG written by PIL
    out.append(("png_rgb_500x375.png", pil_bytes(rgb(500, 375, 20), "PNG")))
    out.append(("png_rgba_64x48.png", pil_bytes(Image.fromarray(content(64, 48, 21, 4), "RGBA"), "PNG")))
    out.append(("png_la_31x17.png", pil_bytes(Image.fromarray(content(31, 17, 22, 2), "LA"), "PNG")))
    out.append(("png_l_45x33.png", pil_bytes(Image.fromarray(content(45, 33, 23, 1)[:, :, 0], "L"), "PNG")))
    out.append(("png_1bit_37x19.png", pil_bytes(Image.fromarray(content(37, 19, 24, 1)[:, :, 0] > 127), "PNG")))
    p = rgb(50, 40, 25).quantize(200)
    out.append(("png_palette_50x40.png", pil_bytes(p, "PNG")))
    out.append(("png_palette_trns_50x40.png", pil_bytes(p, "PNG", transparency=3)))
    out.append(("png_gray16_pil_29x23.png", pil_bytes(Image.fromarray(
        (content(29, 23, 26, 1)[:, :, 0].astype(np.uint16) * 3).astype(np.uint16)), "PNG")))
    out.append(("png_1x300.png", pil_bytes(rgb(1, 300, 27), "PNG")))
    out.append(("png_2x3.png", pil_bytes(rgb(2, 3, 28), "PNG")))
    out.append(("png_rgb_300x256.png", pil_bytes(rgb(300, 256, 29), "PNG")))  # Resize(256): no-op
    # Black and white blocks: bicubic's overshoot past 0 and 255 must clamp as PIL's does.
    blocks = (np.add.outer(np.arange(27) // 3, np.arange(39) // 2) % 2 * 255).astype(np.uint8)
    out.append(("png_blocks_39x27.png", pil_bytes(Image.fromarray(np.stack([blocks, 255 - blocks, blocks], 2)), "PNG")))

    # PNG written here (PIL cannot write these variants)
    g = content(33, 21, 30, 3).astype(np.int64)
    out.append(("png_rgb16_33x21.png", png_bytes(g * 256 + (np.arange(33)[None, :, None] * 7) % 256, 16, 2)))
    out.append(("png_rgba16_19x13.png", png_bytes(content(19, 13, 31, 4).astype(np.int64) * 251, 16, 6)))
    out.append(("png_la16_17x11.png", png_bytes(content(17, 11, 32, 2).astype(np.int64) * 199, 16, 4)))
    out.append(("png_gray16_wide_25x9.png", png_bytes(content(25, 9, 33, 1).astype(np.int64) * 3, 16, 0)))
    out.append(("png_gray2_23x7.png", png_bytes(content(23, 7, 34, 1).astype(np.int64) // 64, 2, 0)))
    out.append(("png_gray4_21x9.png", png_bytes(content(21, 9, 35, 1).astype(np.int64) // 16, 4, 0)))
    out.append(("png_gray1_trns_13x5.png", png_bytes(content(13, 5, 36, 1).astype(np.int64) // 128, 1, 0, trns=b"\0\1")))
    pal16 = content(16, 1, 37, 3)[0]
    out.append(("png_palette4_trns_27x14.png", png_bytes(content(27, 14, 38, 1).astype(np.int64) // 16, 4, 3,
                                                         palette=pal16, trns=bytes(range(0, 160, 20)))))
    pal4 = content(4, 1, 39, 3)[0]
    out.append(("png_palette2_11x10.png", png_bytes(content(11, 10, 40, 1).astype(np.int64) // 64, 2, 3, palette=pal4)))
    # Indices past the PLTE entries (PIL reads its gray-ramp default for them)
    out.append(("png_palette_short_plte_9x4.png", png_bytes(content(9, 4, 44, 1).astype(np.int64) // 16, 4, 3, palette=pal4)))
    out.append(("png_interlaced_rgb_45x37.png", png_bytes(content(45, 37, 41, 3), 8, 2, interlace=True)))
    out.append(("png_interlaced_rgba16_9x11.png", png_bytes(content(9, 11, 42, 4).astype(np.int64) * 257, 16, 6, interlace=True)))
    out.append(("png_interlaced_gray1_3x2.png", png_bytes(content(3, 2, 43, 1).astype(np.int64) // 128, 1, 0, interlace=True)))
    out.append(("png_interlaced_palette_1x1.png", png_bytes(np.array([[[1]]]), 8, 3, palette=pal4, interlace=True)))

    # BMP written by PIL
    out.append(("bmp_24_41x29.bmp", pil_bytes(rgb(41, 29, 50), "BMP")))
    out.append(("bmp_32_23x17.bmp", pil_bytes(Image.fromarray(content(23, 17, 51, 4), "RGBA"), "BMP")))
    out.append(("bmp_8_palette_50x40.bmp", pil_bytes(rgb(50, 40, 52).quantize(100), "BMP")))
    out.append(("bmp_8_gray_30x20.bmp", pil_bytes(Image.fromarray(content(30, 20, 53, 1)[:, :, 0], "L"), "BMP")))
    out.append(("bmp_1bit_35x9.bmp", pil_bytes(Image.fromarray(content(35, 9, 54, 1)[:, :, 0] > 127), "BMP")))

    # BMP written here
    c = content(19, 7, 55, 3)
    rows = [bytes(r[:, ::-1].reshape(-1)) for r in c]  # BGR
    out.append(("bmp_24_topdown_19x7.bmp", bmp_bytes(19, 7, 24, rows, top_down=True)))
    idx = content(15, 6, 56, 1)[:, :, 0] // 16
    out.append(("bmp_4_palette_15x6.bmp", bmp_bytes(15, 6, 4, pack_indices(idx, 4), palette=[tuple(v) for v in pal16])))
    idx1 = content(21, 4, 57, 1)[:, :, 0] // 128
    out.append(("bmp_1_color_21x4.bmp", bmp_bytes(21, 4, 1, pack_indices(idx1, 1), palette=[(200, 30, 10), (5, 90, 250)])))
    idx8 = content(17, 5, 59, 1)[:, :, 0]
    out.append(("bmp_8_short_palette_17x5.bmp", bmp_bytes(17, 5, 8, pack_indices(idx8, 8), palette=[tuple(v) for v in pal16])))
    c4 = content(13, 6, 58, 4)
    rows32 = [bytes(np.stack([r[:, 2], r[:, 1], r[:, 0], r[:, 3]], axis=1).reshape(-1)) for r in c4]
    out.append(("bmp_32_v5_bitfields_13x6.bmp", bmp_bytes(13, 6, 32, rows32, compression=3, header_size=124,
                                                          masks=(0xFF0000, 0xFF00, 0xFF, 0xFF000000))))
    out.append(("bmp_32_v5_topdown_13x6.bmp", bmp_bytes(13, 6, 32, rows32, compression=3, header_size=124, top_down=True,
                                                        masks=(0xFF0000, 0xFF00, 0xFF, 0xFF000000))))
    return out


def bad_files(good):
    """(file name, bytes or None for a missing file, kind) for inputs that must be refused."""
    jpeg = good["jpeg_420_500x375.jpg"]
    png = good["png_rgb_500x375.png"]
    bmp = good["bmp_24_41x29.bmp"]
    rng = np.random.default_rng(99)
    random_bytes = bytes([0x13]) + rng.integers(0, 256, 4000, dtype=np.uint8).tobytes()
    c = content(5, 4, 60, 3)
    rows16 = [struct.pack("<5H", *[((int(p[0]) >> 3) << 10) | ((int(p[1]) >> 3) << 5) | (int(p[2]) >> 3) for p in r]) for r in c]
    huge_png = (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0))
                + _chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + _chunk(b"IEND", b""))
    bad_crc_idat = bytearray(png_bytes(content(8, 8, 61, 3), 8, 2))
    return [
        ("empty.jpg", b"", "corrupt_data"),
        ("truncated_half.jpg", jpeg[: len(jpeg) // 2], "corrupt_data"),
        ("truncated_header.jpg", jpeg[:100], "corrupt_data"),
        ("truncated_half.png", png[: len(png) // 2], "corrupt_data"),
        ("truncated_signature.png", png[:20], "corrupt_data"),
        ("truncated_half.bmp", bmp[: len(bmp) // 2], "corrupt_data"),
        ("random_bytes.jpg", random_bytes, "corrupt_data"),
        ("text_file.png", b"this is a text file, not an image\n", "corrupt_data"),
        ("missing_file.jpg", None, "not_found"),
        ("bmp_16bit_5x4.bmp", bmp_bytes(5, 4, 16, rows16), "unsupported"),
        ("gif_8x8.gif", pil_bytes(Image.fromarray(content(8, 8, 62, 3)).quantize(16), "GIF"), "unsupported"),
        ("huge_dimensions.png", huge_png, "unsupported"),
    ]


def pil_fails(path):
    try:
        with Image.open(path) as im:
            im.convert("RGB")
        return False
    except Exception:  # noqa: BLE001 - any PIL failure counts
        return True


def write(out_dir, name, data):
    with open(os.path.join(out_dir, name), "wb") as f:
        f.write(data)
    return name


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    out_dir = args.out
    os.makedirs(out_dir, exist_ok=True)
    torch.set_num_threads(1)
    to_tensor = transforms.ToTensor()
    normalize = transforms.Normalize(MEAN, STD)

    images = build_images()
    good = dict(images)
    manifest = {"images": [], "bad": []}

    # A JPEG without its EOI marker: PIL decides whether it is an image or an error.
    no_eoi = good["jpeg_422_97x61.jpg"][:-2]
    write(out_dir, "jpeg_no_eoi_97x61.jpg", no_eoi)
    if pil_fails(os.path.join(out_dir, "jpeg_no_eoi_97x61.jpg")):
        manifest["bad"].append({"file": "jpeg_no_eoi_97x61.jpg", "kind": "corrupt_data", "pil_fails": True})
    else:
        images.append(("jpeg_no_eoi_97x61.jpg", no_eoi))

    # JPEGs that make libjpeg warn (junk bytes before a marker): PIL ignores the warning.
    base = good["jpeg_420_500x375.jpg"]
    prog = good["jpeg_progressive_375x500.jpg"]
    second_sos = prog.index(b"\xff\xda", prog.index(b"\xff\xda") + 2)
    for name, data in (("jpeg_junk_before_eoi_500x375.jpg", base[:-2] + b"\x00\x11\x22" + base[-2:]),
                       ("jpeg_progressive_junk_between_scans_375x500.jpg", prog[:second_sos] + b"\x12\x34" + prog[second_sos:])):
        write(out_dir, name, data)
        if pil_fails(os.path.join(out_dir, name)):
            manifest["bad"].append({"file": name, "kind": "corrupt_data", "pil_fails": True})
        else:
            images.append((name, data))

    for name, data in images:
        path = os.path.join(out_dir, write(out_dir, name, data))
        with Image.open(path) as opened:
            fmt = opened.format
            img = opened.convert("RGB")
        stem = os.path.splitext(name)[0]
        entry = {"file": name, "format": fmt, "width": img.width, "height": img.height,
                 "decoded": write(out_dir, stem + ".decoded.rgb", img.tobytes()), "cases": [], "pil_resizes": []}
        large = img.width * img.height > 1_000_000
        cases = [(256, 224, "bilinear"), (32, 28, "bilinear"), (256, 224, "bicubic")] if large else (
            [(r, c, "bilinear") for r, c in DEFAULT_CASES] + [(r, c, "bicubic") for r, c in BICUBIC_CASES])
        for resize, crop, interpolation in cases:
            mode = FILTERS[interpolation][1]
            resized = transforms.Resize(resize, interpolation=mode)(img) if resize > 0 else img
            cropped = transforms.CenterCrop(crop)(resized)
            tensor = normalize(to_tensor(cropped)).contiguous()
            tag = f"{stem}.r{resize}c{crop}" + ("" if interpolation == "bilinear" else "." + interpolation)
            case = {"resize": resize, "crop": crop, "interpolation": interpolation,
                    "resized_width": resized.width, "resized_height": resized.height,
                    "cropped": write(out_dir, tag + ".cropped.rgb", cropped.tobytes()),
                    "tensor": write(out_dir, tag + ".tensor.f32", tensor.numpy().astype("<f4").tobytes())}
            if resized.width * resized.height * 3 <= MAX_STORED_RESIZED:
                case["resized"] = write(out_dir, tag + ".resized.rgb", resized.tobytes())
            entry["cases"].append(case)
        if not large:
            w, h = img.width, img.height
            upscale = (2 * w + 1, 3 * h) if w * h <= 20000 else (w + 3, h + 2)
            sizes = {(w, max(1, h // 3)), (max(1, w // 3), h), upscale, (max(1, w // 7), max(1, h // 5)),
                     (w + 1, max(1, h - 1)), (1, 1), (w, h)}
            for interpolation, (pil_filter, _) in FILTERS.items():
                for rw, rh in sorted(sizes):
                    r = img.resize((rw, rh), pil_filter)
                    entry["pil_resizes"].append({"width": rw, "height": rh, "interpolation": interpolation,
                                                 "file": write(out_dir, f"{stem}.pil{rw}x{rh}.{interpolation}.rgb",
                                                               r.tobytes())})
        manifest["images"].append(entry)

    for name, data, kind in bad_files(good):
        path = os.path.join(out_dir, name)
        if data is None:
            if os.path.exists(path):
                os.remove(path)
        else:
            write(out_dir, name, data)
        manifest["bad"].append({"file": name, "kind": kind, "pil_fails": data is None or pil_fails(path)})

    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print(f"wrote {len(manifest['images'])} images and {len(manifest['bad'])} bad files to {out_dir}")


if __name__ == "__main__":
    main()
