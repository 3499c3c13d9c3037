#!/usr/bin/env bash
# Regenerates the result files the simulators serve (src/simulators/media/assets/).
# They are committed, so nobody needs ffmpeg to run the tests; this script documents
# exactly how they were made. Needs ffmpeg with libvpx, libopus, libx264 and libwebp
# (Debian: apt-get install -y ffmpeg) and the DejaVu fonts (fonts-dejavu-core).
#
#   bash scripts/make-media.sh
#
# The tests (test/simulators/media.test.ts) check the files by ffprobe and size, not by hash.
set -euo pipefail
cd "$(dirname "$0")/../src/simulators/media/assets"

# 4 s, 320x180, 25 fps: the moving testsrc2 pattern with a burnt-in timer (so a player
# test can see where it is), and a 100 ms 880 Hz beep at each whole second (A/V sync).
# A keyframe every 25 frames (1 s), so seeking to the middle lands near where asked;
# the WebM index (Cues) goes before the media, so a player can seek from its first range.
video_source=(-f lavfi -i 'testsrc2=size=320x180:rate=25:duration=4')
audio_source=(-f lavfi -i "aevalsrc='0.2*sin(2*PI*880*t)*lt(mod(t\,1)\,0.1)':s=48000:d=4")
timer="drawtext=font='DejaVu Sans Mono':fontsize=26:fontcolor=white:box=1:boxcolor=black@0.65:boxborderw=6:x=(w-tw)/2:y=h-th-14:text='%{pts\:hms}'"
# No encoder version strings or dates in the files, so regenerating changes nothing
# unless the encoders themselves changed.
reproducible=(-map_metadata -1 -fflags +bitexact -flags:v +bitexact -flags:a +bitexact)

# Primary asset: WebM (VP9 + Opus), which every Chromium build plays, Debian's included.
ffmpeg -hide_banner -loglevel error -y "${video_source[@]}" "${audio_source[@]}" \
  -vf "$timer" \
  -c:v libvpx-vp9 -b:v 56k -maxrate 80k -bufsize 112k -g 25 -keyint_min 25 \
  -deadline good -cpu-used 1 -row-mt 0 -threads 1 -pix_fmt yuv420p \
  -c:a libopus -b:a 16k -ac 1 \
  -cues_to_front 1 "${reproducible[@]}" sample.webm

# Secondary asset: H.264 + AAC MP4 with the index (moov) up front (+faststart), so a
# player can start before the whole file arrived. Chromium builds without proprietary
# codecs cannot play it; the providers' own ".mp4" results are served with it.
ffmpeg -hide_banner -loglevel error -y "${video_source[@]}" "${audio_source[@]}" \
  -vf "$timer" \
  -c:v libx264 -profile:v main -preset slow -b:v 56k -maxrate 80k -bufsize 112k \
  -g 25 -keyint_min 25 -sc_threshold 0 -threads 1 -pix_fmt yuv420p \
  -c:a aac -b:a 24k -ac 1 \
  -movflags +faststart "${reproducible[@]}" sample.mp4

# Thumbnails: the frame at 2 s, as WebP (what OpenAI's thumbnail variant answers) and JPEG.
ffmpeg -hide_banner -loglevel error -y -ss 2 -i sample.webm -frames:v 1 \
  -c:v libwebp -quality 60 -compression_level 6 "${reproducible[@]}" thumbnail.webp
ffmpeg -hide_banner -loglevel error -y -ss 2 -i sample.webm -frames:v 1 \
  -c:v mjpeg -q:v 6 "${reproducible[@]}" thumbnail.jpg

ls -l sample.webm sample.mp4 thumbnail.webp thumbnail.jpg
sha256sum sample.webm sample.mp4 thumbnail.webp thumbnail.jpg
