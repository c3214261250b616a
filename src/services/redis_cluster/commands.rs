//! Talking to one node while forming: a command whose failure means the
//! cluster was not formed, and reading its `CLUSTER NODES` and
//! `CLUSTER INFO` replies.

use redis::aio::ConnectionManager;

use crate::services::error::ServiceError;

/// The node's own id and bus port, from its `CLUSTER NODES` table: the line
/// flagged `myself` reads `ID IP:PORT@BUSPORT[,HOSTNAME] FLAGS ...`.
pub(super) fn myself(table: &str) -> Option<(String, u16)> {
    table.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        let id = fields.next()?;
        let address = fields.next()?;
        let flags = fields.next()?;
        if !flags.split(',').any(|flag| flag == "myself") {
            return None;
        }
        let bus = address.split_once('@')?.1;
        let bus = bus.split(',').next()?.parse().ok()?;
        Some((id.to_owned(), bus))
    })
}

/// A number of `CLUSTER INFO`'s `name:value` lines (0 if absent).
pub(super) fn info_number(info: &str, name: &str) -> usize {
    info.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0)
}

pub(super) async fn command<T: redis::FromRedisValue>(
    connection: &mut ConnectionManager,
    command: &mut redis::Cmd,
) -> Result<T, ServiceError> {
    command
        .query_async(connection)
        .await
        .map_err(|error| not_formed(error.to_string()))
}

pub(super) fn not_formed(reason: String) -> ServiceError {
    ServiceError::ClusterNotFormed { reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_finds_its_own_id_and_bus_port_in_its_table() {
        let table = "07c3 127.0.0.1:30002@40002 master - 0 1 2 connected 5461-10922\n\
                     e7d1 127.0.0.1:30001@41234,host myself,master - 0 0 1 connected 0-5460\n";
        assert_eq!(myself(table), Some(("e7d1".to_owned(), 41234)));
        assert_eq!(
            myself("07c3 127.0.0.1:30002@40002 master - 0 1 2 connected"),
            None
        );
        let info = "cluster_state:ok\r\ncluster_slots_assigned:16384\r\ncluster_known_nodes:6\r\n";
        assert_eq!(info_number(info, "cluster_known_nodes"), 6);
        assert_eq!(info_number(info, "cluster_slots_assigned"), 16384);
        assert_eq!(info_number(info, "cluster_size"), 0);
    }
}
