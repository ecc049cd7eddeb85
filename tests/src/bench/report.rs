//! The benchmark's table: one row per measurement, ours and keepalived side by side.

use super::median_p95;

/// Groups of rows, in the order the table shows them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Section {
    Gap,
    Precision,
    Freeze,
    Defective,
    Cpu,
    Memory,
    Xdp,
    Config,
    Failed,
}

impl Section {
    pub fn title(self) -> &'static str {
        match self {
            Section::Gap => "Failover gap seen by the client (UDP probe every 1 ms)",
            Section::Precision => {
                "Takeover precision: new master's first advert on the wire minus the RFC timer"
            }
            Section::Freeze => "Stalled backup and frozen master",
            Section::Defective => "Defective adverts from a third host",
            Section::Cpu => "CPU per node (utime + stime of the daemon's processes, 1 s samples)",
            Section::Memory => "Resident memory per node",
            Section::Xdp => "XDP cost per packet (BPF_PROG_TEST_RUN, ours only)",
            Section::Config => "Configuration parse (ours only)",
            Section::Failed => "Scenarios that could not be measured",
        }
    }
}

/// What one implementation measured for a row.
#[derive(Clone, Debug, PartialEq)]
pub enum Summary {
    /// One value per repetition; median and 95th percentile are shown.
    Samples(Vec<f64>),
    /// Events in a number of trials (e.g. false takeovers in 5 stalls).
    Count { events: u64, trials: u64 },
    /// Figures computed elsewhere (e.g. by the XDP bench): median, p95 if known, runs.
    Given {
        median: f64,
        p95: Option<f64>,
        n: usize,
    },
    /// Not measured for this implementation.
    None,
}

impl Summary {
    fn median_p95(&self) -> Option<(f64, Option<f64>)> {
        match self {
            Summary::Samples(v) => median_p95(v).map(|(m, p)| (m, Some(p))),
            Summary::Given { median, p95, .. } => Some((*median, *p95)),
            Summary::Count { events, .. } => Some((*events as f64, None)),
            Summary::None => None,
        }
    }

    fn n(&self) -> Option<usize> {
        match self {
            Summary::Samples(v) => Some(v.len()),
            Summary::Given { n, .. } => Some(*n),
            Summary::Count { trials, .. } => Some(*trials as usize),
            Summary::None => None,
        }
    }

    fn cells(&self, decimals: usize) -> (String, String) {
        match self {
            Summary::Count { events, trials } => (format!("{events} of {trials}"), DASH.into()),
            _ => match self.median_p95() {
                Some((m, p)) => (
                    format!("{m:.decimals$}"),
                    p.map_or(DASH.into(), |p| format!("{p:.decimals$}")),
                ),
                None => (DASH.into(), DASH.into()),
            },
        }
    }
}

const DASH: &str = "–";

/// One line of the table.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub section: Section,
    pub metric: String,
    pub unit: String,
    /// Decimals shown.
    pub decimals: usize,
    pub ours: Summary,
    pub keepalived: Summary,
    pub note: String,
    /// The ratio shown, when it is not that of the medians (e.g. CPU: of the means over
    /// the whole window, which 1 s samples of 10 ms ticks only approximate).
    pub ratio: Option<f64>,
}

impl Row {
    /// Samples of both implementations.
    pub fn samples(
        section: Section,
        metric: String,
        unit: &str,
        decimals: usize,
        ours: &[f64],
        keepalived: &[f64],
        note: String,
    ) -> Row {
        Row {
            section,
            metric,
            unit: unit.into(),
            decimals,
            ours: Summary::Samples(ours.to_vec()),
            keepalived: Summary::Samples(keepalived.to_vec()),
            note,
            ratio: None,
        }
    }

    /// Events in trials, for both implementations.
    pub fn counts(
        section: Section,
        metric: String,
        ours: (u64, u64),
        keepalived: (u64, u64),
        note: String,
    ) -> Row {
        Row {
            section,
            metric,
            unit: "count".into(),
            decimals: 0,
            ours: Summary::Count {
                events: ours.0,
                trials: ours.1,
            },
            keepalived: Summary::Count {
                events: keepalived.0,
                trials: keepalived.1,
            },
            note,
            ratio: None,
        }
    }

    /// A figure only this daemon has.
    pub fn ours_only(
        section: Section,
        metric: String,
        unit: &str,
        decimals: usize,
        ours: Summary,
        note: String,
    ) -> Row {
        Row {
            section,
            metric,
            unit: unit.into(),
            decimals,
            ours,
            keepalived: Summary::None,
            note,
            ratio: None,
        }
    }

    /// A scenario that failed, with the error.
    pub fn failed(name: &str, error: &str) -> Row {
        Row {
            section: Section::Failed,
            metric: name.into(),
            unit: String::new(),
            decimals: 0,
            ours: Summary::None,
            keepalived: Summary::None,
            note: error.replace('\n', " "),
            ratio: None,
        }
    }

    /// ours / keepalived, of the medians (or of the event counts), unless the row says
    /// otherwise.
    pub fn ratio(&self) -> Option<f64> {
        if self.ratio.is_some() {
            return self.ratio;
        }
        let (o, _) = self.ours.median_p95()?;
        let (k, _) = self.keepalived.median_p95()?;
        (k != 0.0).then(|| o / k)
    }

    fn cells(&self) -> [String; 9] {
        let (om, op) = self.ours.cells(self.decimals);
        let (km, kp) = self.keepalived.cells(self.decimals);
        let ratio = self.ratio().map_or(DASH.into(), |r| format!("{r:.2}"));
        let n = match (self.ours.n(), self.keepalived.n()) {
            (Some(o), Some(k)) => format!("{o}/{k}"),
            (Some(o), None) => o.to_string(),
            _ => DASH.into(),
        };
        [
            self.metric.clone(),
            self.unit.clone(),
            om,
            op,
            km,
            kp,
            ratio,
            n,
            self.note.clone(),
        ]
    }
}

const HEADER: [&str; 9] = [
    "measurement",
    "unit",
    "ours median",
    "ours p95",
    "keepalived median",
    "keepalived p95",
    "ours/keepalived",
    "n",
    "notes",
];

fn sorted(rows: &[Row]) -> Vec<&Row> {
    let mut v: Vec<&Row> = rows.iter().collect();
    v.sort_by_key(|r| r.section);
    v
}

/// The table as Markdown: one table, a bold line opening each section.
pub fn render_markdown(rows: &[Row]) -> String {
    let esc = |s: &str| s.replace('|', "\\|");
    let mut s = format!("| {} |\n", HEADER.join(" | "));
    s.push_str(&format!("|{}\n", "---|".repeat(HEADER.len())));
    let mut section = None;
    for r in sorted(rows) {
        if section != Some(r.section) {
            section = Some(r.section);
            s.push_str(&format!(
                "| **{}** |{}\n",
                r.section.title(),
                " |".repeat(HEADER.len() - 1)
            ));
        }
        let cells: Vec<String> = r.cells().iter().map(|c| esc(c)).collect();
        s.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    s
}

impl Row {
    /// The repetitions behind the row, one line: `metric: ours a, b, c | keepalived ...`;
    /// `None` for rows without samples.
    pub fn samples_line(&self) -> Option<String> {
        let list = |s: &Summary| match s {
            Summary::Samples(v) => Some(
                v.iter()
                    .map(|x| format!("{x:.prec$}", prec = self.decimals))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            _ => None,
        };
        let (o, k) = (list(&self.ours), list(&self.keepalived));
        if o.is_none() && k.is_none() {
            return None;
        }
        Some(format!(
            "{} ({}): ours {} | keepalived {}",
            self.metric,
            self.unit,
            o.unwrap_or_else(|| DASH.into()),
            k.unwrap_or_else(|| DASH.into())
        ))
    }
}

/// Every row's repetitions, as a Markdown list (the appendix of the report).
pub fn render_samples(rows: &[Row]) -> String {
    sorted(rows)
        .iter()
        .filter_map(|r| r.samples_line())
        .map(|l| format!("- {l}\n"))
        .collect()
}

/// The table as aligned text for a terminal (notes unpadded at the end of each line).
pub fn render_text(rows: &[Row]) -> String {
    let rows = sorted(rows);
    let all: Vec<[String; 9]> = rows.iter().map(|r| r.cells()).collect();
    let mut width = HEADER.map(|h| h.chars().count());
    for cells in &all {
        for (w, c) in width.iter_mut().zip(cells.iter()) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String]| -> String {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            let pad = width[i].saturating_sub(c.chars().count());
            if i == 0 || i == 1 {
                s.push_str(c);
                s.push_str(&" ".repeat(pad));
            } else if i == cells.len() - 1 {
                s.push_str(c);
            } else {
                s.push_str(&" ".repeat(pad));
                s.push_str(c);
            }
            s.push_str("  ");
        }
        s.trim_end().to_string() + "\n"
    };
    let header: Vec<String> = HEADER.iter().map(|h| h.to_string()).collect();
    let mut s = line(&header);
    let mut section = None;
    for (r, cells) in rows.iter().zip(&all) {
        if section != Some(r.section) {
            section = Some(r.section);
            s.push_str(&format!("-- {} --\n", r.section.title()));
        }
        s.push_str(&line(cells));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_rows() {
        let rows = vec![
            Row::counts(
                Section::Freeze,
                "false takeovers".into(),
                (0, 5),
                (2, 5),
                String::new(),
            ),
            Row::samples(
                Section::Gap,
                "host death".into(),
                "ms",
                1,
                &[10.0, 12.0, 11.0],
                &[20.0, 22.0, 21.0],
                "a | b".into(),
            ),
        ];
        let md = render_markdown(&rows);
        let lines: Vec<&str> = md.lines().collect();
        assert!(lines[2].contains("**Failover gap"), "{md}");
        assert_eq!(
            lines[3],
            "| host death | ms | 11.0 | 12.0 | 21.0 | 22.0 | 0.52 | 3/3 | a \\| b |"
        );
        assert!(
            md.contains("| 0 of 5 | – | 2 of 5 | – | 0.00 | 5/5 |"),
            "{md}"
        );
        let text = render_text(&rows);
        assert!(text.contains("-- Stalled backup"), "{text}");
    }
}
