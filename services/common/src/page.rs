//! Cursor pagination: `limit`, `order`, `after`, `before` over time-sortable ids.

use assistd_proto::pb;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select};

use crate::error::{ServiceError, ServiceResult};

/// Sort order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Oldest first.
    Asc,
    /// Newest first.
    Desc,
}

/// A validated page request.
#[derive(Debug, Clone)]
pub struct PageRequest {
    /// Objects per page.
    pub limit: u64,
    /// Sort order.
    pub order: Order,
    /// Return objects after this id (in `order`).
    pub after: Option<String>,
    /// Return objects before this id (in `order`).
    pub before: Option<String>,
}

/// One page of results.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The objects, in the requested order.
    pub data: Vec<T>,
    /// Whether more objects follow in the direction of the scan.
    pub has_more: bool,
}

impl PageRequest {
    /// Validates `params` against the limits of one list operation.
    pub fn from_pb(params: Option<pb::ListParams>, default_limit: u64, max_limit: u64) -> ServiceResult<Self> {
        let params = params.unwrap_or_default();
        let limit = match params.limit {
            None => default_limit,
            Some(l) if (1..=max_limit).contains(&u64::from(l)) => u64::from(l),
            Some(l) => {
                return Err(ServiceError::invalid(
                    "limit",
                    format!(
                        "Invalid 'limit': integer below minimum value or above maximum value. Expected a value between 1 and {max_limit}, but got {l} instead."
                    ),
                ));
            }
        };
        let order = match pb::Order::try_from(params.order).unwrap_or(pb::Order::Unspecified) {
            pb::Order::Asc => Order::Asc,
            pb::Order::Desc | pb::Order::Unspecified => Order::Desc,
        };
        let nonempty = |s: Option<String>| s.filter(|s| !s.is_empty());
        Ok(Self { limit, order, after: nonempty(params.after), before: nonempty(params.before) })
    }

    /// Checks that the cursors are ids of kind `K` (the kind the list holds): a junk
    /// `after` or `before` is a 400 naming it, not an empty page. A well-formed id of an
    /// object that is gone still marks a place in the list.
    pub fn cursors_of<K: crate::ids::IdKind>(self) -> ServiceResult<Self> {
        for (param, cursor) in [("after", &self.after), ("before", &self.before)] {
            if let Some(c) = cursor
                && !K::valid(c)
            {
                return Err(ServiceError::invalid(
                    param,
                    format!("Invalid '{param}': expected an ID that begins with '{}', but got '{c}'.", K::PREFIX),
                ));
            }
        }
        Ok(self)
    }

    /// True when the scan runs against `order` (only `before` given).
    fn reversed(&self) -> bool {
        self.before.is_some() && self.after.is_none()
    }

    /// Adds the cursor bounds, the sort and `limit + 1` to `select` over `id`.
    pub fn apply<E, C>(&self, mut select: Select<E>, id: C) -> Select<E>
    where
        E: EntityTrait,
        C: ColumnTrait,
    {
        let asc = self.order == Order::Asc;
        if let Some(after) = &self.after {
            select = select.filter(if asc { id.gt(after.as_str()) } else { id.lt(after.as_str()) });
        }
        if let Some(before) = &self.before {
            select = select.filter(if asc { id.lt(before.as_str()) } else { id.gt(before.as_str()) });
        }
        let scan_asc = asc != self.reversed();
        select = if scan_asc { select.order_by_asc(id) } else { select.order_by_desc(id) };
        select.limit(self.limit + 1)
    }

    /// Turns the rows fetched with [`apply`](Self::apply) into a page.
    pub fn finish<T>(&self, mut rows: Vec<T>) -> Page<T> {
        let has_more = rows.len() as u64 > self.limit;
        rows.truncate(self.limit as usize);
        if self.reversed() {
            rows.reverse();
        }
        Page { data: rows, has_more }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_bounds() {
        let p = |l| pb::ListParams { limit: Some(l), ..Default::default() };
        assert!(PageRequest::from_pb(Some(p(0)), 20, 100).is_err());
        assert!(PageRequest::from_pb(Some(p(101)), 20, 100).is_err());
        assert_eq!(PageRequest::from_pb(Some(p(100)), 20, 100).unwrap().limit, 100);
        assert_eq!(PageRequest::from_pb(None, 20, 100).unwrap().limit, 20);
        assert_eq!(PageRequest::from_pb(None, 20, 100).unwrap().order, Order::Desc);
    }

    #[test]
    fn cursors_must_be_ids_of_the_listed_kind() {
        use crate::ids::AssistantId;
        let p = |after: &str, before: &str| {
            Some(pb::ListParams { after: Some(after.into()), before: Some(before.into()), ..Default::default() })
        };
        let ok = PageRequest::from_pb(p("asst_01abc", ""), 20, 100).unwrap().cursors_of::<AssistantId>().unwrap();
        assert_eq!(ok.after.as_deref(), Some("asst_01abc"));
        let e = PageRequest::from_pb(p("junk", ""), 20, 100).unwrap().cursors_of::<AssistantId>().unwrap_err();
        assert_eq!(e.param.as_deref(), Some("after"));
        let e = PageRequest::from_pb(p("", "thread_1"), 20, 100).unwrap().cursors_of::<AssistantId>().unwrap_err();
        assert_eq!(e.param.as_deref(), Some("before"));
    }

    #[test]
    fn finish_trims_and_reverses() {
        let req = PageRequest { limit: 2, order: Order::Desc, after: None, before: Some("x".into()) };
        let page = req.finish(vec![1, 2, 3]);
        assert_eq!(page.data, vec![2, 1]);
        assert!(page.has_more);
    }
}
