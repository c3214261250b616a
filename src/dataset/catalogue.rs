//! The word lists and price list the generator draws from.
//!
//! Names and cities are common ones; emails use the `example` domains, which
//! are reserved for documentation, and phone numbers use the 555-01xx range,
//! which is reserved for fiction. The tax rates are illustrative round
//! figures per state, not tax advice.

/// Given names.
pub const FIRST_NAMES: &[&str] = &[
    "Ada", "Alan", "Amara", "Ana", "Ben", "Carlos", "Chen", "Chloe", "Daniel", "Diego", "Elena",
    "Emma", "Fatima", "Felix", "Grace", "Hana", "Hiro", "Ines", "Isaac", "Jamal", "John", "Julia",
    "Kai", "Kenji", "Laila", "Leo", "Lucia", "Maya", "Mei", "Mohamed", "Nadia", "Noah", "Olga",
    "Omar", "Priya", "Quinn", "Rafael", "Rosa", "Sam", "Sara", "Sofia", "Tariq", "Tom", "Uma",
    "Victor", "Wei", "Yara", "Yusuf", "Zoe", "Zara",
];

/// Family names.
pub const LAST_NAMES: &[&str] = &[
    "Adams",
    "Ahmed",
    "Alvarez",
    "Brown",
    "Campbell",
    "Chen",
    "Cohen",
    "Davis",
    "Diaz",
    "Doe",
    "Edwards",
    "Evans",
    "Fischer",
    "Garcia",
    "Gupta",
    "Hall",
    "Hernandez",
    "Ito",
    "Jackson",
    "Johnson",
    "Kim",
    "Kowalski",
    "Lee",
    "Lopez",
    "Martin",
    "Miller",
    "Moore",
    "Nakamura",
    "Nguyen",
    "Novak",
    "Okafor",
    "Patel",
    "Perez",
    "Quinn",
    "Rossi",
    "Santos",
    "Schmidt",
    "Silva",
    "Singh",
    "Smith",
    "Sato",
    "Taylor",
    "Thomas",
    "Walker",
    "White",
    "Williams",
    "Wilson",
    "Wright",
    "Young",
    "Zhang",
];

/// Street names, without the suffix.
pub const STREETS: &[&str] = &[
    "Main",
    "Oak",
    "Maple",
    "Cedar",
    "Pine",
    "Elm",
    "Washington",
    "Lake",
    "Hill",
    "Park",
    "Sunset",
    "River",
    "Church",
    "Mill",
    "Spring",
    "Highland",
    "Union",
    "Market",
    "Broad",
    "Chestnut",
];

/// Street suffixes, abbreviated as on envelopes.
pub const STREET_SUFFIXES: &[&str] = &["St", "Ave", "Rd", "Blvd", "Ln", "Dr", "Way", "Ct"];

/// Email domains reserved for examples.
pub const EMAIL_DOMAINS: &[&str] = &["example.com", "example.net", "example.org"];

/// A city: name, state, the first three digits of its ZIP codes, and a phone area code.
#[derive(Debug, Clone, Copy)]
pub struct City {
    /// The city's name.
    pub name: &'static str,
    /// Its state's two-letter code.
    pub state: &'static str,
    /// The first three digits of its ZIP codes.
    pub zip_prefix: &'static str,
    /// Its telephone area code.
    pub area_code: &'static str,
}

const fn city(
    name: &'static str,
    state: &'static str,
    zip_prefix: &'static str,
    area_code: &'static str,
) -> City {
    City {
        name,
        state,
        zip_prefix,
        area_code,
    }
}

/// Cities customers live in.
pub const CITIES: &[City] = &[
    city("New York", "NY", "100", "212"),
    city("Buffalo", "NY", "142", "716"),
    city("Los Angeles", "CA", "900", "213"),
    city("San Francisco", "CA", "941", "415"),
    city("San Diego", "CA", "921", "619"),
    city("Chicago", "IL", "606", "312"),
    city("Houston", "TX", "770", "713"),
    city("Austin", "TX", "787", "512"),
    city("Dallas", "TX", "752", "214"),
    city("Phoenix", "AZ", "850", "602"),
    city("Philadelphia", "PA", "191", "215"),
    city("Pittsburgh", "PA", "152", "412"),
    city("Seattle", "WA", "981", "206"),
    city("Denver", "CO", "802", "303"),
    city("Boston", "MA", "021", "617"),
    city("Miami", "FL", "331", "305"),
    city("Orlando", "FL", "328", "407"),
    city("Atlanta", "GA", "303", "404"),
    city("Portland", "OR", "972", "503"),
    city("Minneapolis", "MN", "554", "612"),
    city("Detroit", "MI", "482", "313"),
    city("Nashville", "TN", "372", "615"),
    city("Salt Lake City", "UT", "841", "801"),
    city("Columbus", "OH", "432", "614"),
    city("Raleigh", "NC", "276", "919"),
    city("Las Vegas", "NV", "891", "702"),
    city("Kansas City", "MO", "641", "816"),
    city("Anchorage", "AK", "995", "907"),
];

/// Something a hosting company sells: its description, unit price, and the
/// largest quantity one line usually carries.
#[derive(Debug, Clone, Copy)]
pub struct Product {
    /// The line item's description.
    pub description: &'static str,
    /// The unit price, as written on a price list.
    pub price: &'static str,
    /// The most of it one line orders.
    pub max_quantity: i64,
}

const fn product(description: &'static str, price: &'static str, max_quantity: i64) -> Product {
    Product {
        description,
        price,
        max_quantity,
    }
}

/// The price list. The first two are the course notes' own.
pub const PRODUCTS: &[Product] = &[
    product("Web Hosting", "50.00", 12),
    product("Domain Registration", "15.00", 5),
    product("SSL Certificate", "79.00", 3),
    product("Business Email Mailbox", "6.00", 50),
    product("Cloud Backup 100 GB", "9.99", 10),
    product("Managed Database", "120.00", 4),
    product("CDN Bandwidth 1 TB", "35.00", 20),
    product("Support Hours", "95.00", 20),
    product("Website Builder", "19.99", 3),
    product("Load Balancer", "18.00", 4),
    product("Static IP Address", "4.00", 16),
    product("Security Audit", "1250.00", 1),
    product("Onboarding Session", "150.00", 2),
    product("Uptime Monitoring", "12.50", 10),
    product("Dedicated Server", "249.00", 4),
    product("DDoS Protection", "60.00", 2),
    product("Object Storage 250 GB", "5.75", 40),
    product("Virtual Private Server", "24.00", 10),
];
