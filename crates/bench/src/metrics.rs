//! Reading the server's `/metrics` (Prometheus text) for the time breakdowns.

use crate::Res;

type Labels = Vec<(String, String)>;

/// One scrape: `(name, labels, value)` per sample line.
#[derive(Debug, Clone, Default)]
pub struct Scrape {
    samples: Vec<(String, Labels, f64)>,
}

fn parse_labels(raw: &str) -> Labels {
    // Label values here never hold commas or escaped quotes (routes, platforms, outcomes).
    raw.split(',')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            Some((k.trim().to_owned(), v.trim().trim_matches('"').to_owned()))
        })
        .collect()
}

impl Scrape {
    pub fn parse(text: &str) -> Scrape {
        let samples = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| {
                let (series, value) = l.rsplit_once(' ')?;
                let value: f64 = value.parse().ok()?;
                let (name, labels) = match series.split_once('{') {
                    Some((n, rest)) => (n, parse_labels(rest.trim_end_matches('}'))),
                    None => (series, Vec::new()),
                };
                Some((name.to_owned(), labels, value))
            })
            .collect();
        Scrape { samples }
    }

    pub async fn fetch(client: &reqwest::Client, url: &str) -> Res<Scrape> {
        let text = client
            .get(url)
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?;
        Ok(Scrape::parse(&text))
    }

    /// The sum of every sample of `name` whose labels include all of `filter`.
    pub fn sum(&self, name: &str, filter: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|(n, labels, _)| {
                n == name
                    && filter
                        .iter()
                        .all(|(k, v)| labels.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .map(|(_, _, v)| v)
            .sum()
    }
}

impl Scrape {
    /// The values `label` takes on samples of `name`.
    pub fn label_values(&self, name: &str, label: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .samples
            .iter()
            .filter(|(n, _, _)| n == name)
            .filter_map(|(_, labels, _)| {
                labels
                    .iter()
                    .find(|(k, _)| k == label)
                    .map(|(_, v)| v.clone())
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

/// Count and total seconds of store operations between two scrapes.
pub struct Delta {
    pub count: f64,
    pub seconds: f64,
}

pub fn store_delta(before: &Scrape, after: &Scrape) -> Delta {
    histogram_delta(
        before,
        after,
        "plugboard_store_operation_duration_seconds",
        &[],
    )
}

pub fn histogram_delta(
    before: &Scrape,
    after: &Scrape,
    name: &str,
    filter: &[(&str, &str)],
) -> Delta {
    let count = format!("{name}_count");
    let sum = format!("{name}_sum");
    Delta {
        count: after.sum(&count, filter) - before.sum(&count, filter),
        seconds: after.sum(&sum, filter) - before.sum(&sum, filter),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_summed_over_the_labels_asked_for() {
        let s = Scrape::parse(
            "# HELP x\nplugboard_refreshes_total{platform=\"twitter\",outcome=\"refreshed\"} 3\n\
             plugboard_refreshes_total{platform=\"tiktok\",outcome=\"refreshed\"} 4\n\
             plugboard_refreshes_total{platform=\"tiktok\",outcome=\"dead\"} 1\nup 1\n",
        );
        assert_eq!(
            s.sum("plugboard_refreshes_total", &[("outcome", "refreshed")]),
            7.0
        );
        assert_eq!(s.sum("plugboard_refreshes_total", &[]), 8.0);
        assert_eq!(s.sum("up", &[]), 1.0);
        assert_eq!(
            s.label_values("plugboard_refreshes_total", "platform"),
            vec!["tiktok", "twitter"]
        );
    }
}
