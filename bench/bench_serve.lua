-- bench/bench_serve.lua -- wrk's script for bench/bench_serve.sh: every
-- request is POST /api/verify with the same two images as multipart/form-
-- data fields a and b (the files named by SIAM_BENCH_A and SIAM_BENCH_B).
local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local d = f:read("*a")
  f:close()
  return d
end

local boundary = "siam-bench-7d1f3a"
local function part(name, file)
  return "--" .. boundary .. "\r\n" ..
    'Content-Disposition: form-data; name="' .. name .. '"; filename="' ..
    name .. '.png"\r\nContent-Type: image/png\r\n\r\n' .. slurp(file) .. "\r\n"
end

wrk.method = "POST"
wrk.path = "/api/verify"
wrk.body = part("a", os.getenv("SIAM_BENCH_A")) .. part("b", os.getenv("SIAM_BENCH_B")) ..
  "--" .. boundary .. "--\r\n"
wrk.headers["Content-Type"] = "multipart/form-data; boundary=" .. boundary
-- (wrk itself counts the answers that are not 2xx: "Non-2xx".)
