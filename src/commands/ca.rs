//! `trakt-doctor ca path|export|regenerate`: the CA's file, its PEM, a new one.

use crate::cli::{self, CaAction, CaArgs};
use crate::error::{Context, Fatal};
use crate::tls::ca::CertificateAuthority;
use crate::tls::CaFiles;

pub(crate) fn run(args: CaArgs) -> Result<i32, Fatal> {
    match args.action {
        CaAction::Path { certs } => {
            let files = CaFiles::new(&certs.certs);
            println!("{}", super::absolute(&files.cert_path()).display())
        }
        CaAction::Export { certs } => {
            let files = CaFiles::new(&certs.certs);
            let (ca, _) =
                CertificateAuthority::load_or_create(&files, &crate::default_intercept_hosts())
                    .context(&format!("cannot export the CA of {}", files.dir.display()))?;
            print!("{}", ca.cert_pem());
        }
        CaAction::Regenerate { certs, intercept } => {
            let files = CaFiles::new(&certs.certs);
            let hosts = cli::intercept_hosts(&intercept);
            CertificateAuthority::create(&files, &hosts).context(&format!(
                "cannot create a new CA in {}",
                files.dir.display()
            ))?;
            eprintln!(
                "trakt-doctor: a new CA for {} is in {}.\n\
                 Remove the old trakt-doctor CA from your trust store and trust this one instead.",
                super::host_list(&hosts),
                super::absolute(&files.cert_path()).display()
            );
        }
    }
    Ok(0)
}
