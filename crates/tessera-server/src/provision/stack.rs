//! A stack's start order: every component after the ones it depends on, in the order given
//! where that leaves a choice. A dependency cycle is refused with its path (`a → b → a`).

use std::collections::HashMap;

/// The most components one stack may hold.
pub const MAX_COMPONENTS: usize = 50;

/// One component as the ordering sees it.
#[derive(Debug, Clone, Copy)]
pub struct Node<'a> {
    pub name: &'a str,
    pub depends_on: &'a [String],
}

/// Indexes into `nodes` in start order, or why there is none.
pub fn order(nodes: &[Node<'_>]) -> Result<Vec<usize>, String> {
    if nodes.is_empty() || nodes.len() > MAX_COMPONENTS {
        return Err(format!(
            "components: 1 to {MAX_COMPONENTS} components, not {}",
            nodes.len()
        ));
    }
    let mut index = HashMap::new();
    for (i, node) in nodes.iter().enumerate() {
        if index.insert(node.name, i).is_some() {
            return Err(format!("components: `{}` is named twice", node.name));
        }
    }
    let mut deps = Vec::with_capacity(nodes.len());
    for node in nodes {
        let mut of_node = Vec::new();
        for dep in node.depends_on {
            let Some(&d) = index.get(dep.as_str()) else {
                return Err(format!(
                    "components: `{}` depends on `{dep}`, which is not a component of the stack",
                    node.name
                ));
            };
            of_node.push(d);
        }
        deps.push(of_node);
    }

    // Depth-first, dependencies first; a node met again while still on the path closes a cycle.
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    let mut marks = vec![Mark::New; nodes.len()];
    let mut ordered = Vec::with_capacity(nodes.len());
    for root in 0..nodes.len() {
        if marks[root] != Mark::New {
            continue;
        }
        // (node, next dependency to look at)
        let mut path: Vec<(usize, usize)> = vec![(root, 0)];
        marks[root] = Mark::OnPath;
        while let Some(top) = path.last_mut() {
            let node = top.0;
            if let Some(&dep) = deps[node].get(top.1) {
                top.1 += 1;
                match marks[dep] {
                    Mark::Done => {}
                    Mark::New => {
                        marks[dep] = Mark::OnPath;
                        path.push((dep, 0));
                    }
                    Mark::OnPath => {
                        let start = path.iter().position(|&(n, _)| n == dep).unwrap_or(0);
                        let cycle: Vec<&str> = path[start..]
                            .iter()
                            .map(|&(n, _)| nodes[n].name)
                            .chain([nodes[dep].name])
                            .collect();
                        return Err(format!("dependency cycle: {}", cycle.join(" → ")));
                    }
                }
            } else {
                marks[node] = Mark::Done;
                ordered.push(node);
                path.pop();
            }
        }
    }
    Ok(ordered)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(spec: &[(&str, &[&str])]) -> Result<Vec<String>, String> {
        let deps: Vec<Vec<String>> = spec
            .iter()
            .map(|(_, d)| d.iter().map(|s| s.to_string()).collect())
            .collect();
        let nodes: Vec<Node<'_>> = spec
            .iter()
            .zip(&deps)
            .map(|((name, _), depends_on)| Node { name, depends_on })
            .collect();
        order(&nodes).map(|o| o.into_iter().map(|i| spec[i].0.to_owned()).collect())
    }

    #[test]
    fn dependencies_start_first_in_the_given_order_otherwise() {
        let order = run(&[
            ("web", &["api"]),
            ("api", &["db", "cache"]),
            ("db", &[]),
            ("cache", &[]),
            ("cron", &[]),
        ]);
        assert_eq!(order.unwrap(), ["db", "cache", "api", "web", "cron"]);
    }

    #[test]
    fn cycles_are_named() {
        assert_eq!(
            run(&[("a", &["b"]), ("b", &["a"])]).unwrap_err(),
            "dependency cycle: a → b → a"
        );
        assert_eq!(
            run(&[("x", &[]), ("a", &["b"]), ("b", &["c"]), ("c", &["b"])]).unwrap_err(),
            "dependency cycle: b → c → b"
        );
        assert_eq!(
            run(&[("a", &["a"])]).unwrap_err(),
            "dependency cycle: a → a"
        );
    }

    #[test]
    fn unknown_dependencies_duplicates_and_sizes_are_refused() {
        assert!(run(&[("a", &["zz"])]).unwrap_err().contains("`zz`"));
        assert!(
            run(&[("a", &[]), ("a", &[])])
                .unwrap_err()
                .contains("twice")
        );
        assert!(run(&[]).is_err());
    }
}
