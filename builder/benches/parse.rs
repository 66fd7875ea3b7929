//! Parses a generated 5,000-line Dockerfile (passes 1 and 2, then planning) and prints the
//! time per parse. Run: `cargo bench -p rbuild-builder --bench parse`.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use rbuild_builder::dockerfile::parse_dockerfile;
use rbuild_builder::plan::plan;

/// About `lines` lines of varied instructions: continuations, heredocs, stages, flags.
fn generate(lines: usize) -> String {
    let mut out = String::from("# syntax=docker/dockerfile:1\nARG BASE=alpine:3.19\n");
    let mut stage = 0;
    while out.lines().count() < lines {
        out.push_str(&format!("\nFROM ${{BASE}} AS s{stage}\n"));
        out.push_str("ENV A=1 B=\"two words\" C=3\nLABEL org.example.x=\"y\" z=w\n");
        out.push_str("RUN apk add --no-cache \\\n    curl \\\n    # comment\n    git\n");
        out.push_str("RUN --mount=type=cache,target=/root/.cache <<EOF\nset -e\necho hi\nEOF\n");
        if stage > 0 {
            out.push_str(&format!(
                "COPY --from=s{} --chown=1:1 /out /in/{stage}\n",
                stage - 1
            ));
        }
        out.push_str("COPY [\"a b\", \"/dst/\"]\nWORKDIR /app\nUSER 1000:1000\n");
        out.push_str("HEALTHCHECK --interval=30s CMD [\"true\"]\nCMD [\"sh\", \"-c\", \"echo\"]\n");
        stage += 1;
    }
    out
}

fn main() {
    let text = generate(5000);
    let identity = |w: &str| -> Result<String, Infallible> { Ok(w.to_string()) };
    let run = || {
        let df = parse_dockerfile(&text, Some("Dockerfile")).expect("generated Dockerfile parses");
        plan(&df, None, &identity).expect("generated Dockerfile plans")
    };
    let stages = run().stages().len();
    let mut times: Vec<Duration> = (0..50)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(run());
            start.elapsed()
        })
        .collect();
    times.sort();
    println!(
        "parse+plan of {} lines ({} bytes, {stages} stages): median {:?}, min {:?}, max {:?} over {} runs",
        text.lines().count(),
        text.len(),
        times[times.len() / 2],
        times[0],
        times[times.len() - 1],
        times.len()
    );
}
