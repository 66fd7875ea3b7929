//! Never-panic test: seeded pseudo-random and mutated inputs go through passes 1 and 2, the
//! dump and the planner. `RBUILD_FUZZ_ITERS=N` runs longer (default 4000 inputs).

use std::convert::Infallible;
use std::path::Path;
use std::time::Instant;

use super::{dump, parse_dockerfile};
use crate::plan::plan;

/// xorshift64*: small, seeded, reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Fragments that reach the parser's interesting states.
const TOKENS: &[&str] = &[
    "FROM ",
    "RUN ",
    "COPY ",
    "ADD ",
    "ONBUILD ",
    "HEALTHCHECK ",
    "ENV ",
    "ARG ",
    "LABEL ",
    "SHELL ",
    "CMD ",
    "AS ",
    "--from=",
    "--mount=from=",
    "--link",
    "--",
    "<<",
    "<<-",
    "EOF",
    "'",
    "\"",
    "\\",
    "`",
    "\n",
    "\r\n",
    "\t",
    " ",
    "#",
    "# escape=`\n",
    "# syntax=x\n",
    "[",
    "]",
    "\"a\"",
    ",",
    "=",
    "$",
    "${",
    "}",
    "0",
    "NONE",
    "CMD",
    "scratch",
    "\u{feff}",
    "é",
];

fn seeds() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/dockerfiles");
    let mut seeds: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("Dockerfile")).ok())
                .collect()
        })
        .unwrap_or_default();
    seeds.push("FROM a AS b\nRUN <<EOF cat\nx\nEOF\nCOPY --from=b / /\n".into());
    seeds
}

fn random_text(rng: &mut Rng) -> String {
    let mut s = String::new();
    for _ in 0..rng.below(60) {
        if rng.below(4) == 0 {
            s.push(char::from(rng.below(128) as u8));
        } else {
            s.push_str(TOKENS[rng.below(TOKENS.len())]);
        }
    }
    s
}

fn mutate(rng: &mut Rng, seed: &str) -> String {
    let mut bytes = seed.as_bytes().to_vec();
    for _ in 0..1 + rng.below(6) {
        let at = rng.below(bytes.len() + 1);
        match rng.below(4) {
            0 if at < bytes.len() => {
                bytes.remove(at);
            }
            1 => {
                let token = TOKENS[rng.below(TOKENS.len())].as_bytes();
                bytes.splice(at..at, token.iter().copied());
            }
            2 if at < bytes.len() => bytes[at] = rng.below(256) as u8,
            _ => bytes.truncate(at),
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Runs every stage of the frontend on `text`; only a panic fails.
fn exercise(text: &str) -> bool {
    let Ok(df) = parse_dockerfile(text, Some("Dockerfile")) else {
        return false;
    };
    let _ = dump(&df);
    let identity = |w: &str| -> Result<String, Infallible> { Ok(w.to_string()) };
    if let Ok(p) = plan(&df, None, &identity) {
        let _ = crate::plan::dump::dump(&p);
    }
    true
}

#[test]
fn arbitrary_input_never_panics() {
    let iterations: usize = std::env::var("RBUILD_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4000);
    let seeds = seeds();
    let mut rng = Rng(0x5eed_1234_abcd_0042);
    let started = Instant::now();
    let mut parsed = 0;
    for i in 0..iterations {
        let text = if i % 2 == 0 {
            random_text(&mut rng)
        } else {
            let seed = &seeds[rng.below(seeds.len())];
            mutate(&mut rng, seed)
        };
        parsed += usize::from(exercise(&text));
    }
    eprintln!(
        "fuzz: {iterations} inputs ({parsed} parsed) in {:?}",
        started.elapsed()
    );
    assert!(
        parsed > 0,
        "no generated input parsed: the generator is broken"
    );
}
