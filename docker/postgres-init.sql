-- Database per service: each service owns one and reads no other.
CREATE DATABASE users;
CREATE DATABASE inventory;
CREATE DATABASE orders;
