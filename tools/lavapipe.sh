#!/usr/bin/env bash
# Run a command with WebGPU (dawn.node) on Mesa 25's lavapipe instead of SwiftShader: a second CPU Vulkan
# driver with different floating-point behaviour (it found the pack2x16float folding that
# shaders/common.wgsl now avoids) and 2-7x faster here. Debian bookworm has Mesa 22, whose lavapipe
# dawn rejects, so the driver comes from bookworm-backports, unpacked under .cache/lavapipe (no system
# change; needs libvulkan1 and libllvm15 installed, as on these machines).
# Usage: bash tools/lavapipe.sh npx vitest run --project gpu     (npm run test:gpu:lavapipe)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$root/.cache/lavapipe
lib=$dir/root/usr/lib/x86_64-linux-gnu
if [ ! -f "$lib/libvulkan_lvp.so" ]; then
  mkdir -p "$dir/lists/partial" "$dir/archives/partial" "$dir/debs" "$dir/root"
  echo 'deb http://deb.debian.org/debian bookworm-backports main' > "$dir/sources.list"
  apt=(-o "Dir::Etc::SourceList=$dir/sources.list" -o Dir::Etc::SourceParts=/dev/null -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache::Archives=$dir/archives")
  apt-get "${apt[@]}" update -qq
  (cd "$dir/debs" && apt-get "${apt[@]}" download mesa-vulkan-drivers/bookworm-backports libdrm2/bookworm-backports libdrm-amdgpu1/bookworm-backports)
  for deb in "$dir"/debs/*.deb; do dpkg-deb -x "$deb" "$dir/root"; done
fi
printf '{"file_format_version":"1.0.0","ICD":{"api_version":"1.3.0","library_path":"%s/libvulkan_lvp.so"}}\n' "$lib" > "$dir/icd.json"
export VK_ICD_FILENAMES=$dir/icd.json LD_LIBRARY_PATH=$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
exec "$@"
