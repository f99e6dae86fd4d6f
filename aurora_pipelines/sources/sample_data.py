"""A realistic synthetic credit-default dataset, deterministic by seed.

Columns mix numeric, categorical, boolean and date types, with an id, missing values,
outliers and a binary target (`default_flag`, ~10-20% positives) that depends on the
features through a known logistic model, so a good model beats a naive one. `drift=True`
shifts several feature distributions, as a later batch from a changed population would.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TARGET = "default_flag"
ID_COLUMN = "application_id"
TIME_COLUMN = "application_date"

HOME_OWNERSHIP = ["RENT", "MORTGAGE", "OWN", "OTHER"]
LOAN_PURPOSE = [
    "debt_consolidation",
    "credit_card",
    "home_improvement",
    "car",
    "medical",
    "small_business",
    "education",
    "other",
]
EMPLOYMENT_TYPE = ["salaried", "self_employed", "contract", "unemployed", "retired"]
REGION = ["north", "south", "east", "west", "central"]


def generate_credit_data(
    n_rows: int = 100_000, seed: int = 42, drift: bool = False, start_date: str = "2024-01-01"
) -> pd.DataFrame:
    """Return `n_rows` loan applications; the same arguments always give the same frame."""
    rng = np.random.default_rng(seed)
    n = n_rows

    age = rng.normal(42, 12, n).clip(18, 85).round().astype("int64")
    income = rng.lognormal(mean=11.0 - (0.25 if drift else 0.0), sigma=0.55, size=n)
    employment_years = (rng.gamma(2.0, 3.5, n) * np.minimum(1.0, (age - 17) / 25)).round(1)
    loan_amount = (rng.lognormal(9.6 + (0.15 if drift else 0.0), 0.6, n)).round(-2)
    loan_term = rng.choice([12, 24, 36, 48, 60], n, p=[0.1, 0.2, 0.35, 0.15, 0.2])
    credit_score = rng.normal(690 - (35 if drift else 0), 60, n).clip(300, 850).round()
    utilization = rng.beta(2.0 + (1.5 if drift else 0.0), 3.5, n)
    num_credit_lines = rng.poisson(6, n)
    late_payments = rng.poisson(np.where(credit_score < 620, 1.6, 0.4))
    home = rng.choice(HOME_OWNERSHIP, n, p=[0.38, 0.4, 0.2, 0.02])
    purpose_p = (
        [0.25, 0.12, 0.08, 0.08, 0.12, 0.15, 0.1, 0.1]
        if drift
        else [0.4, 0.18, 0.1, 0.1, 0.05, 0.05, 0.04, 0.08]
    )
    purpose = rng.choice(LOAN_PURPOSE, n, p=purpose_p)
    employment = rng.choice(EMPLOYMENT_TYPE, n, p=[0.62, 0.14, 0.12, 0.05, 0.07])
    region = rng.choice(REGION, n)
    has_cosigner = rng.random(n) < 0.12

    debt_to_income = (rng.gamma(2.2, 0.09, n) + loan_amount / income / 6).round(4)
    interest_rate = (
        (4.0 + (850 - credit_score) / 28 + rng.normal(0, 1.2, n) + (1.5 if drift else 0.0))
        .clip(2.5, 36)
        .round(2)
    )

    start = np.datetime64(start_date)
    application_date = start + rng.integers(0, 365, n).astype("timedelta64[D]")
    days_since_delinquency = rng.integers(30, 3000, n).astype("timedelta64[D]")
    has_delinquency = rng.random(n) < np.where(late_payments > 0, 0.7, 0.15)
    last_delinquency = np.where(
        has_delinquency, application_date - days_since_delinquency, np.datetime64("NaT")
    )

    # The true risk model: a logistic function of standardised drivers.
    logit = (
        -2.35
        - 0.011 * (credit_score - 690)
        + 1.9 * (utilization - 0.36)
        + 0.32 * late_payments
        + 1.6 * (debt_to_income - 0.3)
        - 0.35 * np.log(income / 60_000)
        + 0.05 * (interest_rate - 14)
        - 0.03 * (employment_years - 6)
        + np.select([employment == "unemployed", employment == "contract"], [0.9, 0.25], 0.0)
        + np.select([purpose == "small_business", purpose == "medical"], [0.45, 0.3], 0.0)
        + np.where(home == "OWN", -0.25, 0.0)
        - 0.4 * has_cosigner
        + 0.006 * (loan_term - 36)
    )
    default_flag = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype("int64")

    df = pd.DataFrame(
        {
            ID_COLUMN: [f"APP-{seed:04d}-{i:08d}" for i in range(n)],
            TIME_COLUMN: pd.to_datetime(application_date).date,
            "age": age,
            "annual_income": income.round(2),
            "employment_years": employment_years,
            "employment_type": employment,
            "home_ownership": home,
            "region": region,
            "loan_amount": loan_amount,
            "loan_term_months": loan_term.astype("int64"),
            "loan_purpose": purpose,
            "interest_rate": interest_rate,
            "credit_score": credit_score.astype("int64"),
            "credit_utilization": utilization.round(4),
            "num_credit_lines": num_credit_lines.astype("int64"),
            "num_late_payments_12m": late_payments.astype("int64"),
            "debt_to_income": debt_to_income,
            "has_cosigner": has_cosigner,
            "last_delinquency_date": pd.to_datetime(last_delinquency).date,
            TARGET: default_flag,
        }
    )
    _inject_missing(df, rng)
    _inject_outliers(df, rng)
    return df


def _inject_missing(df: pd.DataFrame, rng: np.random.Generator) -> None:
    # Missing at realistic rates, in the columns where real applications leave gaps.
    for column, rate in {
        "annual_income": 0.03,
        "employment_years": 0.06,
        "employment_type": 0.02,
        "credit_utilization": 0.01,
    }.items():
        mask = rng.random(len(df)) < rate
        df[column] = df[column].astype("object" if df[column].dtype == object else "float64")
        df.loc[mask, column] = None


def _inject_outliers(df: pd.DataFrame, rng: np.random.Generator) -> None:
    # A few data-entry errors: incomes off by 100x, utilisation over 100%.
    idx = rng.choice(len(df), size=max(1, len(df) // 500), replace=False)
    df.loc[idx, "annual_income"] = df.loc[idx, "annual_income"] * 100
    idx = rng.choice(len(df), size=max(1, len(df) // 1000), replace=False)
    df.loc[idx, "credit_utilization"] = rng.uniform(1.5, 4.0, len(idx)).round(4)


def generate_payment_events(
    applications: pd.DataFrame, seed: int = 0, max_events: int = 8
) -> pd.DataFrame:
    """Payment events of each application's earlier loans, before AND after it was made.

    An append-only event source with an event time (`event_time`) for point-in-time features:
    events after an application's date happened later and must never reach its training row.
    Columns: event_id, application_id, event_time (timestamp), amount_due, days_late.
    """
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, max_events + 1, len(applications))
    ids = np.repeat(applications[ID_COLUMN].to_numpy(), counts)
    as_of = np.repeat(pd.to_datetime(applications[TIME_COLUMN]).to_numpy(), counts)
    n = int(counts.sum())
    # From two years before the application to one year after, to the minute.
    offset = rng.integers(-730 * 24 * 60, 365 * 24 * 60, n).astype("timedelta64[m]")
    late = np.where(rng.random(n) < 0.2, rng.integers(1, 90, n), 0)
    return pd.DataFrame(
        {
            "event_id": [f"PAY-{seed:04d}-{i:09d}" for i in range(n)],
            ID_COLUMN: ids,
            "event_time": (as_of + offset).astype("datetime64[us]"),
            "amount_due": rng.lognormal(5.5, 0.6, n).round(2),
            "days_late": late.astype("int64"),
        }
    )
