//! Microsoft's national clouds: which login, Graph and Management API hosts a deployment talks
//! to, and which token scopes it asks for. Hosts can be overridden (tests, proxies); scopes cannot,
//! because a token's audience is the cloud's resource identifier, not the URL a request goes to.

use std::fmt;
use std::str::FromStr;

/// A Microsoft cloud (`AUDITLAKE_CLOUD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cloud {
    Commercial,
    Gcc,
    GccHigh,
    Dod,
    China,
}

impl Cloud {
    pub const fn name(self) -> &'static str {
        match self {
            Cloud::Commercial => "commercial",
            Cloud::Gcc => "gcc",
            Cloud::GccHigh => "gcc-high",
            Cloud::Dod => "dod",
            Cloud::China => "china",
        }
    }

    /// The cloud's public endpoints, as Microsoft documents its national clouds.
    pub fn endpoints(self) -> Endpoints {
        let (login, graph, management) = match self {
            Cloud::Commercial => (
                "https://login.microsoftonline.com",
                "https://graph.microsoft.com",
                "https://manage.office.com",
            ),
            Cloud::Gcc => (
                "https://login.microsoftonline.com",
                "https://graph.microsoft.com",
                "https://manage-gcc.office.com",
            ),
            Cloud::GccHigh => (
                "https://login.microsoftonline.us",
                "https://graph.microsoft.us",
                "https://manage.office365.us",
            ),
            Cloud::Dod => (
                "https://login.microsoftonline.us",
                "https://dod-graph.microsoft.us",
                "https://manage.protection.apps.mil",
            ),
            Cloud::China => (
                "https://login.chinacloudapi.cn",
                "https://microsoftgraph.chinacloudapi.cn",
                "https://manage.office365.cn",
            ),
        };
        Endpoints {
            login: login.to_string(),
            graph: graph.to_string(),
            management: management.to_string(),
            graph_scope: format!("{graph}/.default"),
            management_scope: format!("{management}/.default"),
        }
    }
}

impl fmt::Display for Cloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Cloud {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().replace('_', "-").as_str() {
            "commercial" | "global" | "public" => Ok(Cloud::Commercial),
            "gcc" => Ok(Cloud::Gcc),
            "gcc-high" | "gcchigh" => Ok(Cloud::GccHigh),
            "dod" => Ok(Cloud::Dod),
            "china" | "21vianet" => Ok(Cloud::China),
            other => Err(format!(
                "`{other}` is not a cloud (commercial, gcc, gcc-high, dod, china)"
            )),
        }
    }
}

/// The roots a deployment talks to, without trailing slashes, and the scopes it requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub login: String,
    pub graph: String,
    pub management: String,
    pub graph_scope: String,
    pub management_scope: String,
}

impl Endpoints {
    /// Replaces hosts that are overridden; scopes stay the cloud's.
    pub fn with_overrides(
        mut self,
        login: Option<String>,
        graph: Option<String>,
        management: Option<String>,
    ) -> Self {
        if let Some(v) = login {
            self.login = v;
        }
        if let Some(v) = graph {
            self.graph = v;
        }
        if let Some(v) = management {
            self.management = v;
        }
        self
    }

    /// The v2 token endpoint for a tenant.
    pub fn token_url(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/token", self.login)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cloud_parses_from_its_name() {
        for c in [
            Cloud::Commercial,
            Cloud::Gcc,
            Cloud::GccHigh,
            Cloud::Dod,
            Cloud::China,
        ] {
            assert_eq!(c.name().parse::<Cloud>().unwrap(), c);
        }
        assert!("mars".parse::<Cloud>().is_err());
    }

    #[test]
    fn dod_uses_its_own_graph_and_management_hosts() {
        let e = Cloud::Dod.endpoints();
        assert_eq!(e.graph, "https://dod-graph.microsoft.us");
        assert_eq!(e.management, "https://manage.protection.apps.mil");
        assert_eq!(
            e.token_url("t"),
            "https://login.microsoftonline.us/t/oauth2/v2.0/token"
        );
    }

    #[test]
    fn gcc_keeps_commercial_entra_and_graph_with_its_own_management_host() {
        // GCC tenants sign in and use Graph in the commercial cloud; only the Management
        // Activity API has a host of its own. Its token scope follows that host, a choice: which
        // resource Microsoft expects there is not documented.
        let e = Cloud::Gcc.endpoints();
        assert_eq!(e.login, "https://login.microsoftonline.com");
        assert_eq!(e.graph, "https://graph.microsoft.com");
        assert_eq!(e.management, "https://manage-gcc.office.com");
        assert_eq!(e.graph_scope, "https://graph.microsoft.com/.default");
        assert_eq!(e.management_scope, "https://manage-gcc.office.com/.default");
        assert_eq!(
            e.token_url("t"),
            "https://login.microsoftonline.com/t/oauth2/v2.0/token"
        );
    }

    #[test]
    fn china_uses_21vianets_hosts_for_sign_in_graph_and_management() {
        let e = Cloud::China.endpoints();
        assert_eq!(e.login, "https://login.chinacloudapi.cn");
        assert_eq!(e.graph, "https://microsoftgraph.chinacloudapi.cn");
        assert_eq!(e.management, "https://manage.office365.cn");
        assert_eq!(
            e.graph_scope,
            "https://microsoftgraph.chinacloudapi.cn/.default"
        );
        assert_eq!(e.management_scope, "https://manage.office365.cn/.default");
        assert_eq!(
            e.token_url("t"),
            "https://login.chinacloudapi.cn/t/oauth2/v2.0/token"
        );
    }
}
